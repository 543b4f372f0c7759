import { cors as connectCors } from "@connectrpc/connect";
import createCors from "cors";
import type { RequestHandler } from "./listen.js";

/**
 * Lets web pages of the given origins call the broker (browsers send a preflight OPTIONS first). `*` allows any
 * origin; Cebus never reads cookies, so requests carry no credentials. No origins: the handler is returned as is.
 */
export function withCors(next: RequestHandler, origins: readonly string[]): RequestHandler {
  if (origins.length === 0) return next;
  const middleware = createCors({
    origin: origins.includes("*") ? "*" : [...origins],
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization"],
    exposedHeaders: [...connectCors.exposedHeaders],
    maxAge: 7200,
  });
  return (request, response) => {
    middleware(request, response, () => next(request, response));
  };
}
