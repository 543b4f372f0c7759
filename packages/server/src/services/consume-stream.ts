import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Broker, type Consumer, type FlowWindow, withDecodedEvent } from "@cebus/broker";
import { CebusError, createAsyncQueue } from "@cebus/core";
import type {
  ConsumeRequest,
  ConsumeResponse,
  ConsumeResponseSchema,
  Delivery,
  FlowControl,
} from "@cebus/proto";
import type { HandlerContext } from "@connectrpc/connect";
import { settleArgs } from "./settle-args.js";
import { createStreamSettles, type StreamSettles } from "./stream-settles.js";

/**
 * The bidirectional Consume stream: the first message starts a consumer; then flow updates and settles come in
 * (settles go straight to the consumer, in order, without holding up reading) while deliveries and settle answers
 * go out. A client half-close is a clean close (unsettled events are released at once, after every settle it sent
 * is applied); a broken stream keeps the leases until their deadlines.
 */

export function flowWindow(flow: FlowControl | undefined): FlowWindow {
  return { maxEvents: flow?.maxOutstandingEvents ?? 0, maxBytes: Number(flow?.maxOutstandingBytes ?? 0n) };
}

type Response = ConsumeResponse["response"];

/**
 * Deliveries as the request's codec needs them: the broker sends each event as the bytes the store holds, which
 * binary codecs write as they are; the JSON codecs need the event decoded.
 */
export function deliveriesForCodec(context: HandlerContext): (deliveries: Delivery[]) => Delivery[] {
  const json = /json/i.test(context.requestHeader.get("content-type") ?? "");
  return json ? (deliveries) => deliveries.map(withDecodedEvent) : (deliveries) => deliveries;
}

export async function* consumeStream(
  broker: Broker,
  requests: AsyncIterable<ConsumeRequest>,
  context: HandlerContext,
): AsyncGenerator<MessageInitShape<typeof ConsumeResponseSchema>> {
  const iterator = requests[Symbol.asyncIterator]();
  const consumer = await startConsumer(broker, iterator);
  const out = createAsyncQueue<Response>();
  // A broken connection keeps the leases until their deadline (the consumer may still be processing).
  const drop = () => void consumer.close({ release: false });
  context.signal.addEventListener("abort", drop);
  const fail = (error: unknown) => {
    out.end(error);
    drop();
  };
  const settles = createStreamSettles(consumer, (response) => out.push(response), fail);
  readRequests(iterator, consumer, settles).then(
    () => settles.drained().then(() => void consumer.close()),
    fail,
  );
  void forwardDeliveries(consumer, out, deliveriesForCodec(context));
  try {
    yield { response: started(consumer) };
    for await (const response of out) yield { response };
  } finally {
    context.signal.removeEventListener("abort", drop);
    await consumer.close({ release: false });
  }
}

async function startConsumer(broker: Broker, iterator: AsyncIterator<ConsumeRequest>): Promise<Consumer> {
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
  return broker.openConsumer({
    subscription: start.subscription,
    flow: flowWindow(start.flow),
    name: start.consumerName,
  });
}

async function readRequests(
  iterator: AsyncIterator<ConsumeRequest>,
  consumer: Consumer,
  settles: StreamSettles,
): Promise<void> {
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const request = next.value.request;
    if (request.case === "flow") consumer.setFlow(flowWindow(request.value));
    else if (request.case === "settle")
      settles.push({ ...settleArgs(request.value), requestId: request.value.requestId });
    else if (request.case === "start") {
      throw new CebusError("invalid_argument", "`start` may only be the first Consume message", {
        field: "start",
      });
    }
  }
}

async function forwardDeliveries(
  consumer: Consumer,
  out: ReturnType<typeof createAsyncQueue<Response>>,
  forCodec: (deliveries: Delivery[]) => Delivery[],
) {
  try {
    for await (const deliveries of consumer.deliveries) {
      out.push({
        case: "deliveries",
        value: { $typeName: "cebus.v1.DeliveryBatch", deliveries: forCodec(deliveries) },
      });
    }
    out.end();
  } catch (error) {
    out.end(error);
  }
}

function started(consumer: Consumer): Response {
  return {
    case: "started",
    value: {
      $typeName: "cebus.v1.ConsumeStarted",
      consumerId: consumer.id,
      subscription: consumer.subscription,
    },
  };
}
