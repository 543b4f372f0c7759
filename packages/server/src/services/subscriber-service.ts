import type { Broker, SettleOutcome } from "@cebus/broker";
import { CebusError, durationMs, msToTimestamp } from "@cebus/core";
import type { SubscriberService } from "@cebus/proto";
import type { ServiceImpl } from "@connectrpc/connect";
import { createAckCoalescer } from "./ack-coalescer.js";
import { consumeStream, deliveriesForCodec, flowWindow } from "./consume-stream.js";

/** Unary settles are all or nothing: the first failure fails the call, naming every failed delivery. */
function throwIfFailed(outcomes: SettleOutcome[]): void {
  const failed = outcomes.filter((o) => !o.ok);
  const first = (failed.find((f) => f.error?.code !== "aborted") ?? failed[0])?.error;
  if (!first) return;
  if (failed.length === 1) throw first;
  throw new CebusError(
    first.code,
    `${first.message} (${failed.length - 1} more failed: ${failed
      .slice(1)
      .map((f) => f.deliveryId)
      .join(", ")})`,
    {
      field: first.field,
    },
  );
}

export function createSubscriberService(broker: Broker): ServiceImpl<typeof SubscriberService> {
  const acks = createAckCoalescer(broker);
  return {
    consume: (requests, context) => consumeStream(broker, requests, context),

    async *receive(request, context) {
      const consumer = await broker.openConsumer({
        subscription: request.subscription,
        flow: flowWindow(request.flow),
        name: request.consumerName,
      });
      // A server stream has no half-close: a cancelled stream keeps its leases until their deadline, and a clean
      // close is the unary EndReceive (the SDKs call it before they cancel), which releases them.
      const drop = () => void consumer.close({ release: false });
      context.signal.addEventListener("abort", drop);
      try {
        yield { consumerId: consumer.id, deliveries: [] };
        const forCodec = deliveriesForCodec(context);
        for await (const deliveries of consumer.deliveries) yield { deliveries: forCodec(deliveries) };
      } finally {
        context.signal.removeEventListener("abort", drop);
        await consumer.close({ release: false });
      }
    },

    async endReceive(request) {
      return { released: await broker.endConsumer(request.subscription, request.consumerId) };
    },

    async ack(request) {
      if (request.deliveryIds.length === 1) {
        throwIfFailed([await acks.ack(request.subscription, request.deliveryIds[0] as string)]);
        return {};
      }
      throwIfFailed(
        await broker.settle(request.subscription, "ack", request.deliveryIds, { allOrNothing: true }),
      );
      return {};
    },
    async nack(request) {
      const delayMs = request.delay ? durationMs(request.delay, 0) : undefined;
      throwIfFailed(
        await broker.settle(request.subscription, "nack", request.deliveryIds, {
          delayMs,
          allOrNothing: true,
        }),
      );
      return {};
    },
    async extendLease(request) {
      const extensionMs = request.extension ? durationMs(request.extension, 0) : undefined;
      const outcomes = await broker.settle(request.subscription, "extend", request.deliveryIds, {
        extensionMs,
        allOrNothing: true,
      });
      throwIfFailed(outcomes);
      const deadline = outcomes[0]?.deadline;
      return { leaseDeadline: deadline === undefined ? undefined : msToTimestamp(deadline) };
    },
    async readTopic(request) {
      const { records, nextOffset } = await broker.readTopic(
        request.topic,
        request.partition,
        Number(request.fromOffset),
        request.limit,
      );
      return { records, nextOffset: BigInt(nextOffset) };
    },
    async term(request) {
      throwIfFailed(
        await broker.settle(request.subscription, "term", request.deliveryIds, { reason: request.reason }),
      );
      return {};
    },
  };
}
