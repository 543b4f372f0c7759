import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, resolveServeConfig } from "./config.js";
import { openStore } from "./open-store.js";

const file = (content: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "cebus-config-")), "cebus.json");
  writeFileSync(path, content);
  return path;
};

describe("serve configuration", () => {
  it("uses defaults, then the config file, then the environment, then flags", () => {
    expect(resolveServeConfig({}, {})).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      store: "sqlite:./cebus-data",
    });
    const config = file(JSON.stringify({ port: 9000, store: "memory", logLevel: "warn" }));
    expect(resolveServeConfig({ config }, {})).toMatchObject({
      port: 9000,
      store: "memory",
      logLevel: "warn",
    });
    expect(resolveServeConfig({ config }, { CEBUS_PORT: "9100" })).toMatchObject({
      port: 9100,
      store: "memory",
    });
    expect(resolveServeConfig({ config, port: "9200" }, { CEBUS_PORT: "9100" }).port).toBe(9200);
    expect(resolveServeConfig({}, { CEBUS_CONFIG: config }).port).toBe(9000);
  });

  it("a malformed config file is an error naming the file and the fix", () => {
    const path = file("{ port: 80 ");
    expect(() => resolveServeConfig({ config: path }, {})).toThrow(ConfigError);
    expect(() => resolveServeConfig({ config: path }, {})).toThrow(`config file ${path} is not valid JSON`);
  });

  it("an unknown key or a wrong type names the key", () => {
    expect(() => resolveServeConfig({ config: file('{"prot": 80}') }, {})).toThrow(
      /key 'prot': unknown setting 'prot'; known settings are port/,
    );
    expect(() => resolveServeConfig({ config: file('{"port": "eighty"}') }, {})).toThrow(
      /key 'port': port must be a whole number/,
    );
    expect(() => resolveServeConfig({ config: file("[1]") }, {})).toThrow(/must hold a JSON object/);
    expect(() => resolveServeConfig({}, { CEBUS_LOG_LEVEL: "loud" })).toThrow(
      /environment variable CEBUS_LOG_LEVEL: logLevel must be one of/,
    );
    expect(() => resolveServeConfig({ port: "70000" }, {})).toThrow(
      /--port: port must be a whole number from 0 to 65535/,
    );
  });

  it("CORS origins come as a comma-separated flag or variable, or a JSON list; a path or a bad scheme is refused", () => {
    expect(resolveServeConfig({}, {}).corsOrigins).toEqual([]);
    expect(
      resolveServeConfig({ corsOrigins: "http://localhost:5173, https://app.example" }, {}).corsOrigins,
    ).toEqual(["http://localhost:5173", "https://app.example"]);
    expect(resolveServeConfig({}, { CEBUS_CORS_ORIGINS: "*" }).corsOrigins).toEqual(["*"]);
    expect(
      resolveServeConfig({ config: file('{"corsOrigins": ["https://a.example"]}') }, {}).corsOrigins,
    ).toEqual(["https://a.example"]);
    expect(() => resolveServeConfig({ corsOrigins: "https://app.example/page" }, {})).toThrow(
      /--cors-origins: corsOrigins must be web origins such as https:\/\/app.example .*got "https:\/\/app.example\/page"/,
    );
    expect(() => resolveServeConfig({ corsOrigins: "ftp://files.example" }, {})).toThrow(
      /corsOrigins must be/,
    );
  });

  it("a missing config file says which path was given", () => {
    expect(() => resolveServeConfig({ config: "/nonexistent/cebus.json" }, {})).toThrow(
      /config file \/nonexistent\/cebus.json cannot be read \(ENOENT\)/,
    );
  });
});

describe("out-of-range settings are refused at start with the allowed range", () => {
  it("maxEventBytes above the broker's 16 MiB limit (every topic create would fail later)", () => {
    expect(() => resolveServeConfig({}, { CEBUS_MAX_EVENT_BYTES: "16777217" })).toThrow(
      'environment variable CEBUS_MAX_EVENT_BYTES: maxEventBytes must be a whole number of bytes from 1 to 16777216 (16 MiB); got "16777217"',
    );
    expect(resolveServeConfig({}, { CEBUS_MAX_EVENT_BYTES: "16777216" }).maxEventBytes).toBe(16777216);
    expect(() => resolveServeConfig({}, { CEBUS_MAX_EVENT_BYTES: "0" })).toThrow(/from 1 to 16777216/);
  });

  it("maxPendingPublishBytes below 1 byte, from a flag or the environment", () => {
    expect(() => resolveServeConfig({ maxPendingPublishBytes: "0" }, {})).toThrow(
      /maxPendingPublishBytes must be a whole number of bytes, at least 1 \(default 67108864, 64 MiB\); got "0"/,
    );
    expect(resolveServeConfig({}, { CEBUS_MAX_PENDING_PUBLISH_BYTES: "1024" }).maxPendingPublishBytes).toBe(
      1024,
    );
  });

  it("a retention interval longer than a Node timer can wait (24 days), or shorter than 100ms", () => {
    expect(() => resolveServeConfig({ retentionInterval: "30d" }, {})).toThrow(
      '--retention-interval: retentionInterval must be a duration from 100ms to 24d, such as 30s or 5m; got "30d"',
    );
    expect(() => resolveServeConfig({ retentionInterval: "10ms" }, {})).toThrow(/from 100ms to 24d/);
    expect(resolveServeConfig({ retentionInterval: "24d" }, {}).retentionInterval).toBe(24 * 86_400_000);
  });

  it("a port out of range names the value", () => {
    expect(() => resolveServeConfig({ port: "70000" }, {})).toThrow(
      '--port: port must be a whole number from 0 to 65535 (0 picks a free port); got "70000"',
    );
  });
});

describe("store URLs", () => {
  it("names the accepted forms for an unknown URL, and says a backend is not in this build", async () => {
    await expect(openStore("ftp://x")).rejects.toThrow(
      /is not a known store URL; use memory, sqlite::memory:, sqlite:DIR/,
    );
    await expect(openStore("nats://127.0.0.1:1")).rejects.toThrow(
      /cannot use NATS at nats:\/\/127\.0\.0\.1:1: /,
    );
    await expect(openStore("sqlite:")).rejects.toThrow(/names no directory/);
  });

  it("names the URL and the cause when Redis is not there", async () => {
    await expect(openStore("redis://127.0.0.1:1/0")).rejects.toThrow(
      /^cannot use Redis at redis:\/\/127\.0\.0\.1:1\/0: .*is redis-server running there\?$/,
    );
  });

  it("opens memory and directory stores", async () => {
    const memory = await openStore("memory");
    expect(memory.description).toBe("sqlite::memory:");
    await memory.close();
    const dir = mkdtempSync(join(tmpdir(), "cebus-store-"));
    const onDisk = await openStore(`sqlite:${dir}`);
    expect(onDisk.description).toBe(`sqlite:${join(dir, "cebus.db")}`);
    await onDisk.close();
  });
});
