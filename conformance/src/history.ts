import type { CloudEvent } from "@cebus/proto";

/** What a fault in the history was (its `kind`), for the excuse table (src/excuses.ts). */
export const faultKinds = [
  "broker-kill",
  "broker-term",
  "broker-restart",
  "broker-pause",
  "broker-resume",
  "client-kill",
  "client-restart",
  "backend-kill",
  "backend-restart",
  "proxy-reset",
  "proxy-blackhole",
  "proxy-latency",
  "proxy-swallow-responses",
  "proxy-heal",
  "unsubscribe",
  "seek",
  "redrive",
] as const;
export type FaultKind = (typeof faultKinds)[number];

/**
 * The recorded history of a case: every publish, delivery, settle and fault, stamped with one clock (the runner's
 * monotonic milliseconds since the case started). Checkers read only this.
 */
export type HistoryEntry =
  | {
      op: "publish";
      at: number;
      end: number;
      client: string;
      ids: string[];
      keys: (string | undefined)[];
      ok: boolean;
      error?: string;
      duplicate?: boolean[];
      offsets?: number[];
      partitions?: number[];
      /** The events' sources, when not all "/conformance" (dedupe is on source and id). */
      sources?: string[];
    }
  | {
      op: "deliver";
      at: number;
      client: string;
      subscriber: string;
      subscription: string;
      id: string;
      key: string | undefined;
      deliveryId: string;
      attempt: number;
      partition: number;
      offset: number;
      attributes: Record<string, string>;
      /** The event as delivered, kept for cases that compare it with the one published (`sameEvents`). */
      event?: CloudEvent;
      /** The client's idempotent handler recognised the event as already processed. */
      redundant: boolean;
      /**
       * The delivery's lease deadline on the broker's clock (epoch ms), as the client received it; unset for
       * at-most-once and for clients that do not report it.
       */
      leaseDeadline?: number;
    }
  | {
      op: "settle";
      at: number;
      end: number;
      client: string;
      subscriber: string;
      subscription: string;
      id: string;
      key: string | undefined;
      deliveryId: string;
      action: "ack" | "nack" | "extend" | "term" | "stale-ack" | "stale-nack" | "stale-term" | "repeat-ack";
      ok: boolean;
      error?: string;
    }
  | {
      op: "fault";
      at: number;
      fault: string;
      /** The client this fault killed. */
      killed?: string;
      /** What the fault was, for the excuse table (src/excuses.ts); unset for notes such as "broker resumed". */
      kind?: FaultKind;
      /** Scope: the fault concerns only this subscription (a seek) or subscriber (an unsubscribe). */
      subscription?: string;
      subscriber?: string;
    }
  | { op: "read"; at: number; from: number; ok: boolean; error?: string; count: number }
  | { op: "notice"; at: number; client: string; text: string };

export interface History {
  readonly entries: HistoryEntry[];
  now(): number;
  add(entry: HistoryEntry): void;
}

export function createHistory(): History {
  const start = performance.now();
  const entries: HistoryEntry[] = [];
  return {
    entries,
    now: () => Math.round((performance.now() - start) * 1000) / 1000,
    add: (entry) => entries.push(entry),
  };
}

/** The entries recorded so far, frozen: what the checks judge while the runner still polls the broker. */
export function historySnapshot(history: History): History {
  const entries = [...history.entries];
  return {
    entries,
    now: history.now,
    add: () => {
      throw new Error("a snapshot of the history takes no more entries");
    },
  };
}
