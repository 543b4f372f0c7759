import { createAsyncQueue } from "@cebus/core";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "@cebus/proto/grpc";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";

/** The gRPC health protocol (grpc.health.v1.Health): per-service status, Check and Watch. "" is the whole server. */
export interface HealthService {
  setStatus(service: string, status: "serving" | "not_serving"): void;
  register(router: ConnectRouter): void;
  /** Everything NOT_SERVING, and every Watch stream ends. */
  shutdown(): void;
}

export function createHealth(): HealthService {
  const statuses = new Map<string, Status>();
  const watchers = new Set<{ service: string; push: (s: Status) => void; end: () => void }>();
  const response = (status: Status): HealthCheckResponse => ({
    $typeName: "grpc.health.v1.HealthCheckResponse",
    status,
  });

  const set = (service: string, status: Status) => {
    if (statuses.get(service) === status) return;
    statuses.set(service, status);
    for (const watcher of watchers) if (watcher.service === service) watcher.push(status);
  };

  return {
    setStatus(service, status) {
      set(service, status === "serving" ? Status.SERVING : Status.NOT_SERVING);
    },
    shutdown() {
      for (const service of statuses.keys()) set(service, Status.NOT_SERVING);
      for (const watcher of watchers) watcher.end();
      watchers.clear();
    },
    register(router) {
      router.service(Health, {
        check(request) {
          const status = statuses.get(request.service);
          if (status === undefined) {
            throw new ConnectError(
              `unknown service '${request.service}'; use "" for the whole server`,
              Code.NotFound,
            );
          }
          return response(status);
        },
        async *watch(request, context) {
          const queue = createAsyncQueue<Status>();
          const watcher = {
            service: request.service,
            push: (s: Status) => queue.push(s),
            end: () => queue.end(),
          };
          watchers.add(watcher);
          const stop = () => queue.end();
          context.signal.addEventListener("abort", stop);
          try {
            yield response(statuses.get(request.service) ?? Status.SERVICE_UNKNOWN);
            for await (const status of queue) yield response(status);
          } finally {
            watchers.delete(watcher);
            context.signal.removeEventListener("abort", stop);
          }
        },
      });
    },
  };
}
