export {
  ConfigError,
  defaultServeConfig,
  readConfigFile,
  resolveServeConfig,
  type ServeConfig,
} from "./config.js";
export { openStore } from "./open-store.js";
