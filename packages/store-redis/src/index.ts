export { openRedisStore, type RedisConnectOptions } from "./connect.js";
export { createRedisStore, type RedisStoreOptions } from "./redis-store.js";
