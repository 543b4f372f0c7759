import type { Consumer, SettleKind, SettleOptions, SettleOutcome } from "@cebus/broker";
import type { ConsumeResponse, SettleResult } from "@cebus/proto";

/** A settle message of a Consume stream, parsed. */
export interface StreamSettle {
  kind: SettleKind;
  ids: string[];
  options: SettleOptions;
  /** Non-zero: the client wants a `settled` answer with this id. */
  requestId: bigint;
}

/**
 * The settles of one Consume stream, applied in the order they came, without holding up the reading of the
 * stream: while one store call is in flight the next messages queue, and consecutive acks go to the store
 * together (one call; each message still gets its own answer). `drained` resolves when all received so far are
 * applied, so a clean close never releases an event whose ack was already received.
 */
export interface StreamSettles {
  push(settle: StreamSettle): void;
  drained(): Promise<void>;
}

/** The most delivery ids merged into one store call. */
const maxMergedIds = 5000;

interface Queue {
  readonly consumer: Consumer;
  readonly answer: (response: ConsumeResponse["response"]) => void;
  readonly fail: (error: unknown) => void;
  readonly waiting: StreamSettle[];
  running: Promise<void> | undefined;
}

export function createStreamSettles(
  consumer: Consumer,
  answer: (response: ConsumeResponse["response"]) => void,
  fail: (error: unknown) => void,
): StreamSettles {
  const queue: Queue = { consumer, answer, fail, waiting: [], running: undefined };
  return {
    push(settle) {
      queue.waiting.push(settle);
      queue.running ??= drain(queue);
    },
    drained: async () => {
      while (queue.running) await queue.running;
    },
  };
}

async function drain(queue: Queue): Promise<void> {
  try {
    for (let next = takeNext(queue.waiting); next.length > 0; next = takeNext(queue.waiting)) {
      await apply(queue, next);
    }
  } catch (error) {
    queue.waiting.length = 0;
    queue.fail(error);
  } finally {
    queue.running = undefined;
  }
}

/** The next message, with the acks right behind it when it is an ack (up to maxMergedIds ids). */
function takeNext(waiting: StreamSettle[]): StreamSettle[] {
  const first = waiting.shift();
  if (!first) return [];
  const taken = [first];
  let ids = first.ids.length;
  const mergeable = (next: StreamSettle | undefined): next is StreamSettle =>
    next?.kind === "ack" && next.ids.length > 0 && ids + next.ids.length <= maxMergedIds;
  while (first.kind === "ack" && ids > 0 && mergeable(waiting[0])) {
    const next = waiting.shift() as StreamSettle;
    ids += next.ids.length;
    taken.push(next);
  }
  return taken;
}

async function apply(queue: Queue, messages: StreamSettle[]): Promise<void> {
  const [first] = messages as [StreamSettle];
  const ids = messages.flatMap((message) => message.ids);
  const outcomes = await queue.consumer.settle(first.kind, ids, first.options);
  let start = 0;
  for (const message of messages) {
    const own = outcomes.slice(start, start + message.ids.length);
    start += message.ids.length;
    if (message.requestId !== 0n)
      queue.answer({ case: "settled", value: settleResult(message.requestId, own) });
  }
}

function settleResult(requestId: bigint, outcomes: SettleOutcome[]): SettleResult {
  return {
    $typeName: "cebus.v1.SettleResult",
    requestId,
    failures: outcomes
      .filter((outcome) => !outcome.ok)
      .map((outcome) => ({
        $typeName: "cebus.v1.SettleFailure",
        deliveryId: outcome.deliveryId,
        code: outcome.error?.code ?? "unknown",
        message: outcome.error?.message ?? "",
      })),
  };
}
