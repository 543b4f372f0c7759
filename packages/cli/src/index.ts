export { ConfigError, type ServeConfig, defaultServeConfig, readConfigFile, resolveServeConfig } from "./config.js";
export { openStore } from "./open-store.js";
