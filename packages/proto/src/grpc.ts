// Generated descriptors of the vendored gRPC health and reflection protocols.
export * from "./gen/grpc/health/v1/health_pb.js";
export * from "./gen/grpc/reflection/v1/reflection_pb.js";
