import type { Broker, Logger } from "@cebus/broker";
import type { PublisherService } from "@cebus/proto";
import type { ServiceImpl } from "@connectrpc/connect";
import { publishStream } from "./publish-stream.js";

export function createPublisherService(broker: Broker, logger: Logger): ServiceImpl<typeof PublisherService> {
  return {
    async publish(request) {
      const results = await broker.publish(request.topic, request.events);
      return { results };
    },
    publishStream: (requests, context) => publishStream(broker, requests, context, logger),
  };
}
