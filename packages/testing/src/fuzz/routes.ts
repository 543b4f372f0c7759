import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { AdminService, PublisherService, SubscriberService } from "@cebus/proto";
import { Health, ServerReflection } from "@cebus/proto/grpc";

/** Every service the broker serves: its own three, plus gRPC health and reflection. */
export const brokerServices: readonly DescService[] = [
  PublisherService,
  SubscriberService,
  AdminService,
  Health,
  ServerReflection,
];

/** One RPC route of the broker, from its service descriptor. */
export interface RpcRoute {
  /** /package.Service/Method */
  readonly path: string;
  readonly method: DescMethod;
}

/** Every RPC route of the services, enumerated from their descriptors (a new RPC is fuzzed without a code change). */
export function rpcRoutes(services: readonly DescService[] = brokerServices): RpcRoute[] {
  return services.flatMap((service) =>
    service.methods.map((method) => ({ path: `/${service.typeName}/${method.name}`, method })),
  );
}

/** The wire protocols a broker speaks on one port. */
export const protocolShapes = ["connect-json", "connect-proto", "grpc", "grpc-web"] as const;
export type ProtocolShape = (typeof protocolShapes)[number];

/** The plain HTTP endpoints next to the RPC routes. */
export const httpPaths = ["/healthz", "/readyz"] as const;

/** Whether the shape frames messages in 5-byte envelopes for this method (everything but unary Connect). */
export function isEnveloped(shape: ProtocolShape, method: DescMethod): boolean {
  return !(shape.startsWith("connect-") && method.methodKind === "unary");
}

/** Whether the shape's messages are JSON. */
export function isJson(shape: ProtocolShape): boolean {
  return shape === "connect-json";
}

/** The content type a client of this shape sends for this method. */
export function contentTypeOf(shape: ProtocolShape, method: DescMethod): string {
  switch (shape) {
    case "connect-json":
      return method.methodKind === "unary" ? "application/json" : "application/connect+json";
    case "connect-proto":
      return method.methodKind === "unary" ? "application/proto" : "application/connect+proto";
    case "grpc":
      return "application/grpc";
    case "grpc-web":
      return "application/grpc-web+proto";
  }
}

/**
 * Whether a call must travel over HTTP/2: gRPC always, and every bidi stream (over HTTP/1.1 a broker rightly answers
 * 505, a full-duplex call cannot work there). Everything else may go either way.
 */
export function needsHttp2(shape: ProtocolShape, method: DescMethod): boolean {
  return shape === "grpc" || method.methodKind === "bidi_streaming";
}

/** The header naming the compression of request messages in this shape, and of a unary Connect body. */
export function encodingHeaderOf(shape: ProtocolShape, method: DescMethod): string {
  if (shape.startsWith("connect-")) {
    return method.methodKind === "unary" ? "content-encoding" : "connect-content-encoding";
  }
  return "grpc-encoding";
}
