import { readFileSync } from "node:fs";
import { defaultLimits } from "@cebus/broker";
import { CebusError, parseDuration } from "@cebus/core";

/** Settings of `cebus serve`, from flags, environment, a config file and defaults (in that order of precedence). */
export interface ServeConfig {
  port: number;
  host: string;
  store: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  maxEventBytes: number | undefined;
  /** Backpressure: the most bytes of publishes waiting for the store before publishes are refused [64 MiB]. */
  maxPendingPublishBytes: number | undefined;
  /** How often retention (age and size limits) is applied, in ms [60 s]. */
  retentionInterval: number;
  /** Web page origins allowed to call the broker from a browser (CORS); `*` for any [none]. */
  corsOrigins: string[];
}

export const defaultServeConfig: ServeConfig = {
  port: 8080,
  host: "127.0.0.1",
  store: "sqlite:./cebus-data",
  logLevel: "info",
  maxEventBytes: undefined,
  maxPendingPublishBytes: undefined,
  retentionInterval: 60_000,
  corsOrigins: [],
};

/** A configuration problem: the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A timer longer than 2^31-1 ms fires at once in Node, so no interval may be longer than 24 days. */
const maxTimerMs = 24 * 24 * 3600 * 1000;
const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const keys: Record<keyof ServeConfig, (value: unknown, where: string) => unknown> = {
  port: (v, where) => {
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
      throw new ConfigError(
        `${where}: port must be a whole number from 0 to 65535 (0 picks a free port); got ${JSON.stringify(v)}`,
      );
    }
    return n;
  },
  host: (v, where) => {
    if (typeof v !== "string" || v === "")
      throw new ConfigError(
        `${where}: host must be an address such as 127.0.0.1 or 0.0.0.0; got ${JSON.stringify(v)}`,
      );
    return v;
  },
  store: (v, where) => {
    if (typeof v !== "string" || v === "")
      throw new ConfigError(
        `${where}: store must be a store URL such as sqlite:./cebus-data or memory; got ${JSON.stringify(v)}`,
      );
    return v;
  },
  logLevel: (v, where) => {
    if (typeof v !== "string" || !levels.includes(v))
      throw new ConfigError(
        `${where}: logLevel must be one of ${levels.join(", ")}; got ${JSON.stringify(v)}`,
      );
    return v;
  },
  maxEventBytes: (v, where) => {
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    const limit = defaultLimits.maxEventBytesLimit;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > limit)
      throw new ConfigError(
        `${where}: maxEventBytes must be a whole number of bytes from 1 to ${limit} (16 MiB); got ${JSON.stringify(v)}`,
      );
    return n;
  },
  maxPendingPublishBytes: (v, where) => {
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1)
      throw new ConfigError(
        `${where}: maxPendingPublishBytes must be a whole number of bytes, at least 1 (default 67108864, 64 MiB); got ${JSON.stringify(v)}`,
      );
    return n;
  },
  corsOrigins: (v, where) => {
    const list = typeof v === "string" ? v.split(",").map((o) => o.trim()) : v;
    const bad = Array.isArray(list)
      ? list.find((o) => typeof o !== "string" || (o !== "*" && !isOrigin(o)))
      : v;
    if (!Array.isArray(list) || bad !== undefined) {
      throw new ConfigError(
        `${where}: corsOrigins must be web origins such as https://app.example or http://localhost:5173 (scheme, host and port only, comma-separated), or * for any origin; got ${JSON.stringify(bad)}`,
      );
    }
    return list;
  },
  retentionInterval: (v, where) => {
    try {
      const ms = typeof v === "number" ? v : parseDuration(String(v), where);
      if (!Number.isFinite(ms) || ms < 100 || ms > maxTimerMs) throw new Error("out of range");
      return ms;
    } catch (error) {
      const detail = error instanceof CebusError ? ` (${error.message})` : `; got ${JSON.stringify(v)}`;
      throw new ConfigError(
        `${where}: retentionInterval must be a duration from 100ms to 24d, such as 30s or 5m${detail}`,
      );
    }
  },
};

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

function checked(values: Record<string, unknown>, where: (key: string) => string): Partial<ServeConfig> {
  const out: Partial<ServeConfig> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const check = keys[key as keyof ServeConfig];
    if (!check) {
      throw new ConfigError(
        `${where(key)}: unknown setting '${key}'; known settings are ${Object.keys(keys).join(", ")}`,
      );
    }
    (out as Record<string, unknown>)[key] = check(value, where(key));
  }
  return out;
}

/** Reads a JSON config file; any problem is a ConfigError naming the file, the key and the fix. */
export function readConfigFile(path: string): Partial<ServeConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `config file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? error}); check the path passed to --config`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `config file ${path} is not valid JSON (${(error as Error).message}); fix the syntax`,
    );
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      `config file ${path} must hold a JSON object, e.g. {"port": 8080, "store": "sqlite:./cebus-data"}`,
    );
  }
  return checked(parsed as Record<string, unknown>, (key) => `config file ${path}, key '${key}'`);
}

const envNames: Record<string, keyof ServeConfig> = {
  CEBUS_PORT: "port",
  CEBUS_HOST: "host",
  CEBUS_STORE: "store",
  CEBUS_LOG_LEVEL: "logLevel",
  CEBUS_MAX_EVENT_BYTES: "maxEventBytes",
  CEBUS_MAX_PENDING_PUBLISH_BYTES: "maxPendingPublishBytes",
  CEBUS_RETENTION_INTERVAL: "retentionInterval",
  CEBUS_CORS_ORIGINS: "corsOrigins",
};

/** Resolves the serve configuration: flags > environment > config file (--config or CEBUS_CONFIG) > defaults. */
export function resolveServeConfig(
  flags: Partial<Record<keyof ServeConfig, unknown>> & { config?: string },
  env = process.env,
): ServeConfig {
  const configPath = flags.config ?? env.CEBUS_CONFIG;
  const fromFile = configPath ? readConfigFile(configPath) : {};
  const envValues: Record<string, unknown> = {};
  const envWhere: Record<string, string> = {};
  for (const [name, key] of Object.entries(envNames)) {
    if (env[name] !== undefined && env[name] !== "") {
      envValues[key] = env[name];
      envWhere[key] = `environment variable ${name}`;
    }
  }
  const fromEnv = checked(envValues, (key) => envWhere[key] ?? key);
  const { config: _config, ...flagValues } = flags;
  const fromFlags = checked(flagValues, (key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return { ...defaultServeConfig, ...fromFile, ...fromEnv, ...fromFlags };
}
