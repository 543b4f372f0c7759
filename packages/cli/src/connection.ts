import { CebusError, isErrorCode } from "@cebus/core";
import { AdminService, PublisherService, SubscriberService } from "@cebus/proto";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { inCliWords } from "./hints.js";

export interface Connection {
  url: string;
  publisher: Client<typeof PublisherService>;
  subscriber: Client<typeof SubscriberService>;
  admin: Client<typeof AdminService>;
}

/** Connect clients for the broker at `url` (HTTP/2 cleartext: the Consume stream is bidirectional). */
export function connectTo(url: string): Connection {
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
  return {
    url,
    publisher: createClient(PublisherService, transport),
    subscriber: createClient(SubscriberService, transport),
    admin: createClient(AdminService, transport),
  };
}

/** The message to print for an error from the broker or the network. */
export function describeError(error: unknown, url: string): string {
  if (error instanceof ConnectError) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    if (
      error.code === Code.Unavailable &&
      (cause?.code === "ECONNREFUSED" || /ECONNREFUSED/.test(error.message))
    ) {
      return `cannot reach the Cebus broker at ${url}; start it with \`cebus serve\` or pass --url`;
    }
    return inCliWords(error.rawMessage);
  }
  if (error instanceof CebusError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Wraps a command action: errors print `error: <message>` and exit 1. */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      const command = args[args.length - 1] as { optsWithGlobals?: () => { url?: string } };
      const url = command?.optsWithGlobals?.().url ?? "";
      process.stderr.write(`error: ${describeError(error, url)}\n`);
      process.exit(
        error instanceof CebusError && isErrorCode(error.code) && error.code === "invalid_argument" ? 2 : 1,
      );
    }
  };
}
