import { createBroker } from "@cebus/broker";
import { createSqliteStore } from "@cebus/store-sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { type CebusServer, startServer } from "./server.js";

let server: CebusServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(corsOrigins?: string[]): Promise<string> {
  const broker = createBroker({ store: createSqliteStore({ path: ":memory:" }), retentionIntervalMs: 0 });
  server = await startServer({ broker, port: 0, corsOrigins });
  return server.url;
}

const preflight = (url: string, origin: string) =>
  fetch(`${url}/cebus.v1.PublisherService/Publish`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version",
    },
  });

describe("CORS for browser clients", () => {
  it("answers the preflight of an allowed origin with the Connect methods and headers", async () => {
    const url = await serve(["http://localhost:5173"]);
    const response = await preflight(url, "http://localhost:5173");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
      "connect-protocol-version",
    );
  });

  it("a call from an allowed origin can read the response and its grpc-status headers", async () => {
    const url = await serve(["*"]);
    const response = await fetch(`${url}/cebus.v1.AdminService/ListTopics`, {
      method: "POST",
      headers: { origin: "http://any.example", "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("grpc-status");
  });

  it("other origins get no CORS headers (the browser blocks them), and without origins nothing changes", async () => {
    const url = await serve(["http://localhost:5173"]);
    const response = await preflight(url, "http://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    await server?.close();
    const plain = await serve();
    expect(
      (await preflight(plain, "http://localhost:5173")).headers.get("access-control-allow-origin"),
    ).toBeNull();
  });
});
