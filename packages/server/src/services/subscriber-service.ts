import type { Broker, Consumer, SettleKind, SettleOptions, SettleOutcome } from "@cebus/broker";
import { CebusError, createAsyncQueue, durationMs, msToTimestamp } from "@cebus/core";
import type { ConsumeRequest, ConsumeResponse, FlowControl, Settle, SubscriberService } from "@cebus/proto";
import type { ServiceImpl } from "@connectrpc/connect";
import { createAckCoalescer } from "./ack-coalescer.js";

function flowWindow(flow: FlowControl | undefined) {
  return { maxEvents: flow?.maxOutstandingEvents ?? 0, maxBytes: Number(flow?.maxOutstandingBytes ?? 0n) };
}

/** The kind, ids and options of a settle message. */
function settleArgs(settle: Settle): { kind: SettleKind; ids: string[]; options: SettleOptions } {
  const action = settle.action;
  switch (action.case) {
    case "ack":
      return { kind: "ack", ids: action.value.deliveryIds, options: {} };
    case "nack":
      return {
        kind: "nack",
        ids: action.value.deliveryIds,
        options: { delayMs: action.value.delay ? durationMs(action.value.delay, 0) : undefined },
      };
    case "extend":
      return {
        kind: "extend",
        ids: action.value.deliveryIds,
        options: { extensionMs: action.value.extension ? durationMs(action.value.extension, 0) : undefined },
      };
    case "term":
      return { kind: "term", ids: action.value.deliveryIds, options: { reason: action.value.reason } };
    default:
      throw new CebusError("invalid_argument", "settle.action is missing; set ack, nack, extend or term", {
        field: "settle.action",
      });
  }
}

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
    async *consume(requests, context) {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.request.case !== "start") {
        throw new CebusError(
          "invalid_argument",
          "the first Consume message must be `start` naming the subscription",
          {
            field: "start",
          },
        );
      }
      const start = first.value.request.value;
      const consumer: Consumer = await broker.openConsumer({
        subscription: start.subscription,
        flow: flowWindow(start.flow),
        name: start.consumerName,
      });
      const out = createAsyncQueue<ConsumeResponse["response"]>();
      // A broken connection keeps the leases until their deadline (the consumer may still be processing).
      const drop = () => void consumer.close({ release: false });
      context.signal.addEventListener("abort", drop);
      const readRequests = async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          const request: ConsumeRequest["request"] = next.value.request;
          if (request.case === "flow") consumer.setFlow(flowWindow(request.value));
          else if (request.case === "settle") {
            const { kind, ids, options } = settleArgs(request.value);
            const outcomes = await broker.settle(consumer.subscription.name, kind, ids, options);
            if (request.value.requestId !== 0n) {
              out.push({
                case: "settled",
                value: {
                  $typeName: "cebus.v1.SettleResult",
                  requestId: request.value.requestId,
                  failures: outcomes
                    .filter((o) => !o.ok)
                    .map((o) => ({
                      $typeName: "cebus.v1.SettleFailure",
                      deliveryId: o.deliveryId,
                      code: o.error?.code ?? "unknown",
                      message: o.error?.message ?? "",
                    })),
                },
              });
            }
          } else if (request.case === "start") {
            throw new CebusError("invalid_argument", "`start` may only be the first Consume message", {
              field: "start",
            });
          }
        }
      };
      // The client half-closing its side is a clean close: the consumer ends and its in-flight events are released.
      readRequests().then(
        () => void consumer.close(),
        (error) => {
          out.end(error);
          drop();
        },
      );
      void (async () => {
        try {
          for await (const deliveries of consumer.deliveries) {
            out.push({ case: "deliveries", value: { $typeName: "cebus.v1.DeliveryBatch", deliveries } });
          }
          out.end();
        } catch (error) {
          out.end(error);
        }
      })();
      try {
        yield {
          response: {
            case: "started",
            value: {
              $typeName: "cebus.v1.ConsumeStarted",
              consumerId: consumer.id,
              subscription: consumer.subscription,
            },
          },
        };
        for await (const response of out) yield { response };
      } finally {
        context.signal.removeEventListener("abort", drop);
        await consumer.close({ release: false });
      }
    },

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
        for await (const deliveries of consumer.deliveries) yield { deliveries };
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
