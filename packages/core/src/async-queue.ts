/**
 * An unbounded single-reader async queue: `push` never waits, the reader awaits items. Bounded in practice by
 * flow control: a consumer never has more deliveries queued than its window allows.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(item: T): void;
  /** Ends the iteration after the queued items, or with `error` at once. */
  end(error?: unknown): void;
  readonly ended: boolean;
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  let waiter: ((result: IteratorResult<T>) => void) | undefined;
  let failer: ((error: unknown) => void) | undefined;
  let done = false;
  let failure: { error: unknown } | undefined;

  return {
    get ended() {
      return done;
    },
    push(item) {
      if (done) return;
      if (waiter) {
        const resolve = waiter;
        waiter = failer = undefined;
        resolve({ value: item, done: false });
      } else {
        items.push(item);
      }
    },
    end(error) {
      if (done) return;
      done = true;
      if (error !== undefined) {
        failure = { error };
        items.length = 0;
      }
      if (waiter) {
        const resolve = waiter;
        const reject = failer;
        waiter = failer = undefined;
        if (failure) reject?.(failure.error);
        else resolve({ value: undefined, done: true });
      }
    },
    [Symbol.asyncIterator]() {
      return {
        next: () => {
          const item = items.shift();
          if (item !== undefined) return Promise.resolve({ value: item, done: false });
          if (failure) return Promise.reject(failure.error);
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<T>>((resolve, reject) => {
            waiter = resolve;
            failer = reject;
          });
        },
        return: () => {
          done = true;
          items.length = 0;
          return Promise.resolve({ value: undefined, done: true });
        },
        throw: (error?: unknown) => {
          done = true;
          items.length = 0;
          return Promise.reject(error);
        },
      };
    },
  };
}
