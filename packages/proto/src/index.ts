// Generated messages and service descriptors of the Cebus API. Regenerate with `pnpm generate`.

export * from "./gen/cebus/v1/admin_pb.js";
export * from "./gen/cebus/v1/error_pb.js";
export * from "./gen/cebus/v1/filter_pb.js";
export * from "./gen/cebus/v1/publisher_pb.js";
export * from "./gen/cebus/v1/subscriber_pb.js";
export * from "./gen/cebus/v1/subscription_pb.js";
export * from "./gen/cebus/v1/topic_pb.js";
export * from "./gen/io/cloudevents/v1/cloudevents_pb.js";
