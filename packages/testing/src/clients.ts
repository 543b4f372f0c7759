import { create } from "@bufbuild/protobuf";
import { createAsyncQueue } from "@cebus/core";
import {
  AdminService,
  type CloudEvent,
  CloudEventSchema,
  type ConsumeRequest,
  ConsumeRequestSchema,
  type Delivery,
  PublisherService,
  SubscriberService,
} from "@cebus/proto";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/** Raw Connect clients (gRPC over h2c) for tests that must see the wire API without the SDK in between. */
export interface RawClients {
  publisher: Client<typeof PublisherService>;
  subscriber: Client<typeof SubscriberService>;
  admin: Client<typeof AdminService>;
}

export function createRawClients(url: string): RawClients {
  const transport = createGrpcTransport({ baseUrl: url });
  return {
    publisher: createClient(PublisherService, transport),
    subscriber: createClient(SubscriberService, transport),
    admin: createClient(AdminService, transport),
  };
}

/** A minimal valid CloudEvent for tests. */
export function testEvent(
  id: string,
  init: { type?: string; attributes?: CloudEvent["attributes"]; data?: CloudEvent["data"] } = {},
): CloudEvent {
  return create(CloudEventSchema, {
    id,
    source: "/cebus/test",
    specVersion: "1.0",
    type: init.type ?? "cebus.test",
    attributes: init.attributes ?? {},
    data: init.data ?? { case: "textData", value: `event ${id}` },
  });
}

/**
 * Consumes a subscription over the bidi Consume stream, acking every delivery with a confirmed ack, until `count`
 * events were acked or no delivery arrived for `idleMs`. Returns the deliveries in arrival order.
 */
export async function consumeAndAck(
  clients: RawClients,
  subscription: string,
  options: { count: number; idleMs?: number; maxOutstanding?: number },
): Promise<Delivery[]> {
  const requests = createAsyncQueue<ConsumeRequest>();
  const abort = new AbortController();
  requests.push(
    create(ConsumeRequestSchema, {
      request: {
        case: "start",
        value: { subscription, flow: { maxOutstandingEvents: options.maxOutstanding ?? 500 } },
      },
    }),
  );
  const got: Delivery[] = [];
  const pending = new Set<bigint>();
  let requestId = 0n;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(), options.idleMs ?? 1500);
  };
  armIdle();
  try {
    for await (const response of clients.subscriber.consume(requests, { signal: abort.signal })) {
      const r = response.response;
      if (r.case === "deliveries") {
        armIdle();
        got.push(...r.value.deliveries);
        requestId++;
        pending.add(requestId);
        requests.push(
          create(ConsumeRequestSchema, {
            request: {
              case: "settle",
              value: {
                requestId,
                action: { case: "ack", value: { deliveryIds: r.value.deliveries.map((d) => d.deliveryId) } },
              },
            },
          }),
        );
      } else if (r.case === "settled") {
        if (r.value.failures.length > 0) throw new Error(`ack failed: ${r.value.failures[0]?.message}`);
        pending.delete(r.value.requestId);
        if (got.length >= options.count && pending.size === 0) break;
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(idle);
    requests.end();
  }
  return got;
}
