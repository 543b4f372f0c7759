import type { ServiceImpl } from "@connectrpc/connect";
import type { Broker } from "@cebus/broker";
import type { PublisherService } from "@cebus/proto";

export function createPublisherService(broker: Broker): ServiceImpl<typeof PublisherService> {
  return {
    async publish(request) {
      const results = await broker.publish(request.topic, request.events);
      return { results };
    },
  };
}
