import type { DescFile } from "@bufbuild/protobuf";
import type { Broker, Logger } from "@cebus/broker";
import { silentLogger } from "@cebus/broker";
import {
  AdminService,
  file_cebus_v1_admin,
  file_cebus_v1_publisher,
  file_cebus_v1_subscriber,
  PublisherService,
  SubscriberService,
} from "@cebus/proto";
import { file_grpc_health_v1_health } from "@cebus/proto/grpc";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { refuseIncompleteFrames } from "./complete-frames.js";
import { withCors } from "./cors.js";
import { errorInterceptor } from "./errors.js";
import { createHealth } from "./health.js";
import { withHttpEndpoints } from "./http-endpoints.js";
import { listen } from "./listen.js";
import { reclassifyMalformedRequests } from "./malformed-requests.js";
import { registerReflection } from "./reflection.js";
import { createAdminService } from "./services/admin-service.js";
import { createPublisherService } from "./services/publisher-service.js";
import { createSubscriberService } from "./services/subscriber-service.js";

export interface ServerOptions {
  broker: Broker;
  host?: string;
  port?: number;
  logger?: Logger;
  /** Largest request body accepted, in bytes [64 MiB]: a publish batch must fit. */
  maxRequestBytes?: number;
  /** How long close() lets calls in flight finish before cutting them [10 s]. */
  shutdownGraceMs?: number;
  /** Web page origins allowed to call the broker from a browser (CORS), such as https://app.example; `*` for any. */
  corsOrigins?: readonly string[];
}

/** A running Cebus server: Connect, gRPC and gRPC-Web on one port, plus /healthz and /readyz. */
export interface CebusServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, reports NOT_SERVING, lets calls in flight finish (up to the grace time), then resolves. */
  close(): Promise<void>;
}

/** The files served through reflection, so `buf curl` and grpcurl can discover every service. */
const reflectedFiles: DescFile[] = [
  file_cebus_v1_publisher,
  file_cebus_v1_subscriber,
  file_cebus_v1_admin,
  file_grpc_health_v1_health,
];

export async function startServer(options: ServerOptions): Promise<CebusServer> {
  const { broker } = options;
  const logger = options.logger ?? silentLogger;
  const health = createHealth();
  const routes = (router: ConnectRouter) => {
    router.service(PublisherService, createPublisherService(broker, logger));
    router.service(SubscriberService, createSubscriberService(broker));
    router.service(AdminService, createAdminService(broker));
    health.register(router);
    registerReflection(router, reflectedFiles);
    refuseIncompleteFrames(router);
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors: [errorInterceptor(logger)],
    // A request whose bytes cannot be read answers invalid_argument naming its message type, never internal.
    requestGate: reclassifyMalformedRequests,
    readMaxBytes: options.maxRequestBytes ?? 64 * 1024 * 1024,
    // Responses are never compressed: on loopback and LANs gzip costs more CPU than the bytes it saves (pnpm bench:
    // +30% throughput without it). Compressed requests are still accepted.
    compressMinBytes: Number.MAX_SAFE_INTEGER,
  });
  const listener = await listen({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 8080,
    handler: withCors(
      withHttpEndpoints(handler, { healthz: () => true, readyz: () => broker.ready() }),
      options.corsOrigins ?? [],
    ),
    shutdownGraceMs: options.shutdownGraceMs,
  });
  for (const service of ["", PublisherService.typeName, SubscriberService.typeName, AdminService.typeName]) {
    health.setStatus(service, "serving");
  }
  return {
    url: listener.url,
    port: listener.port,
    async close() {
      health.shutdown();
      await listener.close();
    },
  };
}
