export { errorInterceptor, toConnectError } from "./errors.js";
export { type CebusServer, type ServerOptions, startServer } from "./server.js";
