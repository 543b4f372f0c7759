export { type CebusServer, type ServerOptions, startServer } from "./server.js";
export { errorInterceptor, toConnectError } from "./errors.js";
