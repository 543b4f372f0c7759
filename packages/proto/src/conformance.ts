export * from "./gen/cebus/conformance/v1/client_pb.js";
