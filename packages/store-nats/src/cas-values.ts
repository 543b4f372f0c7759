import type { KV } from "@nats-io/kv";
import { isConflict } from "./nats-context.js";

export interface Versioned {
  revision: number;
  value: Uint8Array;
}

/** What a change function decides: the new value to write (none = leave as is) and what the caller gets. */
export interface Change<T> {
  value?: Uint8Array;
  result: T;
}

/**
 * Read-modify-write of KV values with compare-and-set on the revision. Changes to one key from this process run
 * one at a time and reuse the last value written (no read before each write); a change from another process
 * makes the write fail on the revision, and the change then runs again on a fresh read. A change that decides to
 * write nothing, computed from the cached value, runs again on a fresh read, so a decision is never based on a
 * value another process has since replaced.
 */
export interface CasValues {
  change<T>(key: string, fn: (current: Versioned | undefined) => Promise<Change<T>> | Change<T>): Promise<T>;
  /** Forgets cached values (after a key is deleted). */
  forget(prefix: string): void;
}

export function createCasValues(kv: KV): CasValues {
  const cache = new Map<string, Versioned>();
  const queues = new Map<string, Promise<unknown>>();

  async function read(key: string): Promise<Versioned | undefined> {
    const entry = await kv.get(key);
    if (entry?.operation !== "PUT") return undefined;
    return { revision: entry.revision, value: entry.value };
  }

  async function run<T>(
    key: string,
    fn: (current: Versioned | undefined) => Promise<Change<T>> | Change<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const cached = cache.get(key);
      const current = cached ?? (await read(key));
      const out = await fn(current);
      if (out.value === undefined) {
        if (cached === undefined) return out.result;
        cache.delete(key); // decided on a cached value: decide again on a fresh one
        continue;
      }
      try {
        const revision = current
          ? await kv.update(key, out.value, current.revision)
          : await kv.create(key, out.value);
        cache.set(key, { revision, value: out.value });
        return out.result;
      } catch (error) {
        cache.delete(key);
        if (!isConflict(error) || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  return {
    change(key, fn) {
      const previous = queues.get(key) ?? Promise.resolve();
      const next = previous.then(
        () => run(key, fn),
        () => run(key, fn),
      );
      const settled = next.catch(() => {});
      queues.set(key, settled);
      void settled.then(() => {
        if (queues.get(key) === settled) queues.delete(key);
      });
      return next;
    },
    forget(prefix) {
      for (const key of cache.keys()) if (key.startsWith(prefix)) cache.delete(key);
    },
  };
}
