import type { RequestHandler } from "./listen.js";

export interface Probes {
  /** Liveness: the process serves requests. */
  healthz: () => boolean;
  /** Readiness: the broker can take traffic (store reachable, not shutting down). */
  readyz: () => boolean | Promise<boolean>;
}

/** Answers GET /healthz and GET /readyz (200 "ok" or 503 "not ready") and hands everything else on. */
export function withHttpEndpoints(next: RequestHandler, probes: Probes): RequestHandler {
  return (request, response) => {
    const path = request.url?.split("?")[0];
    if (request.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      void (async () => {
        let ok = false;
        try {
          ok = path === "/healthz" ? probes.healthz() : await probes.readyz();
        } catch {
          ok = false;
        }
        response.statusCode = ok ? 200 : 503;
        response.setHeader("content-type", "text/plain; charset=utf-8");
        response.end(ok ? "ok\n" : "not ready\n");
      })();
      return;
    }
    next(request, response);
  };
}
