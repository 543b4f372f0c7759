import { type ChildProcess, spawn } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import {
  type ClientCommand,
  ClientCommandSchema,
  ClientEventSchema,
  type CommandResult,
  type DeliveryEvent,
} from "@cebus/proto/conformance";
import { readFrames, writeFrame } from "./framing.js";

/** A running client under test: any executable speaking the size-delimited client protocol on stdin/stdout. */
export interface ClientProcess {
  readonly name: string;
  /** Sends a command and resolves with its result (rejects if the process dies first). */
  send(command: ClientCommand["command"], timeoutMs?: number): Promise<CommandResult>;
  onDelivery(listener: (delivery: DeliveryEvent) => void): void;
  onNotice(listener: (text: string) => void): void;
  /** stderr so far, for failure reports. */
  log(): string;
  /** Closes stdin and waits for exit; kills after `graceMs`. */
  close(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

export function startClientProcess(
  name: string,
  command: string[],
  env: NodeJS.ProcessEnv = process.env,
): ClientProcess {
  const [file, ...args] = command;
  if (!file) throw new Error(`client ${name}: empty command`);
  const child: ChildProcess = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env });
  let nextId = 1n;
  let stderr = "";
  let exited = false;
  const pending = new Map<bigint, { resolve: (r: CommandResult) => void; reject: (e: Error) => void }>();
  const deliveryListeners: ((d: DeliveryEvent) => void)[] = [];
  const noticeListeners: ((t: string) => void)[] = [];
  const exit = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      for (const p of pending.values())
        p.reject(
          new Error(
            `client ${name} exited (${signal ?? code}) before answering; stderr:\n${stderr.slice(-2000)}`,
          ),
        );
      pending.clear();
      resolve();
    });
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  child.stdin?.on("error", () => {}); // the process may die while we write; exit handling reports it
  void (async () => {
    try {
      for await (const event of readFrames(
        child.stdout as NodeJS.ReadableStream as never,
        ClientEventSchema,
      )) {
        const e = event.event;
        if (e.case === "result") {
          pending.get(e.value.id)?.resolve(e.value);
          pending.delete(e.value.id);
        } else if (e.case === "delivery") {
          for (const listener of deliveryListeners) listener(e.value);
        } else if (e.case === "notice") {
          for (const listener of noticeListeners) listener(e.value);
        }
      }
    } catch (error) {
      stderr += `\n[runner] bad output from client: ${error instanceof Error ? error.message : String(error)}`;
    }
  })();

  return {
    name,
    send(command, timeoutMs = 30_000) {
      if (exited)
        return Promise.reject(new Error(`client ${name} is not running; stderr:\n${stderr.slice(-2000)}`));
      const id = nextId++;
      return new Promise<CommandResult>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`client ${name} did not answer ${command.case} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        writeFrame(child.stdin as never, ClientCommandSchema, create(ClientCommandSchema, { id, command }));
      });
    },
    onDelivery: (listener) => deliveryListeners.push(listener),
    onNotice: (listener) => noticeListeners.push(listener),
    log: () => stderr,
    async close(graceMs = 5000) {
      if (exited) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exit;
      clearTimeout(timer);
    },
    async kill() {
      if (exited) return;
      child.kill("SIGKILL");
      await exit;
    },
  };
}
