import type { Broker } from "@cebus/broker";
import type { PublisherService } from "@cebus/proto";
import type { ServiceImpl } from "@connectrpc/connect";

export function createPublisherService(broker: Broker): ServiceImpl<typeof PublisherService> {
  return {
    async publish(request) {
      const results = await broker.publish(request.topic, request.events);
      return { results };
    },
  };
}
