import type { AsyncQueue } from "@cebus/core";
import type { Delivery, Subscription } from "@cebus/proto";
import type { RetrySchedule } from "@cebus/store/delivery";
import type { DeliveryOwner, EngineContext } from "./context.js";

/** A consumer's flow-control window: the most events and bytes it holds unacked. */
export interface FlowWindow {
  maxEvents: number;
  maxBytes: number;
}

/** A delivery the consumer handed out and that is not settled yet. */
export interface Outstanding {
  bytes: number;
  deadline: number;
  attempt: number;
  partition: number;
  offset: number;
  token: string;
}

/** Everything one consumer knows; the pump, the wakes and the composition in consumer.ts share it. */
export interface ConsumerState {
  readonly ctx: EngineContext;
  readonly id: string;
  readonly subscription: Subscription;
  readonly partitions: number;
  readonly atMostOnce: boolean;
  readonly ackDeadlineMs: number;
  readonly maxAttempts: number;
  /** The subscription's retry schedule, sent with every claim: the store and the wakes compute the same instants. */
  readonly retry: RetrySchedule;
  readonly queue: AsyncQueue<Delivery[]>;
  readonly outstanding: Map<string, Outstanding>;
  /** The consumer as its delivery ids' owner (what settles reach). */
  owner: DeliveryOwner;
  /** Ends the consumer with an error (its deliveries stream fails with it) and releases its leases. */
  fail(error: unknown): void;
  outstandingBytes: number;
  flow: FlowWindow;
  /** Where the next claim round starts, so no partition is always last. */
  nextPartition: number;
  /** Partitions to claim from on the next pump: all of them, or those new events were appended to. */
  pending: Set<number> | "all";
  pumping: boolean;
  again: boolean;
  closed: boolean;
  wakeQueued: boolean;
  /** Grows while polls find nothing, so idle consumers cost (almost) nothing. */
  idlePollMs: number;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  /** A lower bound of the outstanding deadlines, so expiry scans the map only when one may be due. */
  nextDeadline: number;
  /** Instants expired leases become visible again that no claim has looked at yet. */
  readonly visibleAt: Set<number>;
  /** When the last claim round began. */
  claimedAt: number;
}

/** Drops a delivery from the outstanding set (settled, expired or released); returns it. */
export function forget(state: ConsumerState, deliveryId: string): Outstanding | undefined {
  const entry = state.outstanding.get(deliveryId);
  if (!entry) return undefined;
  state.outstanding.delete(deliveryId);
  state.outstandingBytes -= entry.bytes;
  state.ctx.untrack(deliveryId);
  return entry;
}
