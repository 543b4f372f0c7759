import { createInbox, headers, type Msg, type NatsConnection } from "@nats-io/nats-core";

/**
 * The two JetStream requests on the hot path (publish with its ack, direct get), over one reply subscription. The
 * client library's request() builds an Error with a stack trace and a timer for every request (a fifth of the
 * broker's CPU in the NATS bench profile); here a request is a map entry, and one timer sweeps expired ones.
 */
export interface JsRequests {
  /** Publishes to a stream subject; `expectLastSubjectSequence` makes it a compare-and-set (0 = must not exist). */
  publish(
    subject: string,
    data: Uint8Array,
    options?: { msgID?: string; expectLastSubjectSequence?: number },
  ): Promise<{ seq: number; duplicate: boolean }>;
  /**
   * A stored message by sequence, or the first at or after it on `nextBySubject`, or the last one on
   * `lastBySubject`; undefined when there is none. `operation` is a KV message's KV-Operation header (PUT when
   * absent; DEL and PURGE mark a deleted key).
   */
  directGet(stream: string, query: DirectQuery): Promise<DirectMessage | undefined>;
  close(): void;
}

export type DirectQuery = { seq: number; nextBySubject?: string } | { lastBySubject: string };

export interface DirectMessage {
  seq: number;
  data: Uint8Array;
  operation: string;
}

/** A JetStream API error with its code (10071 = wrong last sequence). */
export class JsApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "JsApiError";
  }
}

export function createJsRequests(nc: NatsConnection, timeoutMs = 5000): JsRequests {
  const prefix = createInbox();
  const pending = new Map<number, { resolve: (msg: Msg) => void; reject: (e: Error) => void; at: number }>();
  let next = 0;
  const subscription = nc.subscribe(`${prefix}.*`, {
    callback: (error, msg) => {
      if (error) return;
      const id = Number(msg.subject.slice(prefix.length + 1));
      const waiter = pending.get(id);
      if (!waiter) return;
      pending.delete(id);
      waiter.resolve(msg);
    },
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, waiter] of pending) {
      if (now - waiter.at < timeoutMs) continue;
      pending.delete(id);
      waiter.reject(new Error(`no answer from NATS within ${timeoutMs} ms`));
    }
  }, 250);
  sweep.unref();

  function request(subject: string, data: Uint8Array | string, hdrs?: ReturnType<typeof headers>) {
    return new Promise<Msg>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject, at: Date.now() });
      try {
        nc.publish(subject, data, { reply: `${prefix}.${id}`, ...(hdrs ? { headers: hdrs } : {}) });
      } catch (error) {
        pending.delete(id);
        reject(error as Error);
      }
    });
  }

  return {
    async publish(subject, data, options = {}) {
      return publishAck(await request(subject, data, publishHeaders(options)));
    },

    async directGet(stream, query) {
      const msg = await request(`$JS.API.DIRECT.GET.${stream}`, JSON.stringify(directGetBody(query)));
      return directMessage(stream, msg);
    },

    close() {
      clearInterval(sweep);
      subscription.unsubscribe();
      for (const waiter of pending.values()) waiter.reject(new Error("closed"));
      pending.clear();
    },
  };
}

function publishHeaders(options: {
  msgID?: string;
  expectLastSubjectSequence?: number;
}): ReturnType<typeof headers> | undefined {
  if (options.msgID === undefined && options.expectLastSubjectSequence === undefined) return undefined;
  const hdrs = headers();
  if (options.msgID !== undefined) hdrs.set("Nats-Msg-Id", options.msgID);
  if (options.expectLastSubjectSequence !== undefined)
    hdrs.set("Nats-Expected-Last-Subject-Sequence", String(options.expectLastSubjectSequence));
  return hdrs;
}

function publishAck(msg: Msg): { seq: number; duplicate: boolean } {
  if (msg.headers?.code === 503) throw new Error("no responders: is the stream there, with JetStream on?");
  const ack = msg.json<{
    seq?: number;
    duplicate?: boolean;
    error?: { code: number; err_code: number; description: string };
  }>();
  if (ack.error) throw new JsApiError(ack.error.err_code, ack.error.description);
  return { seq: ack.seq ?? 0, duplicate: ack.duplicate === true };
}

function directGetBody(query: DirectQuery): Record<string, unknown> {
  if ("lastBySubject" in query) return { last_by_subj: query.lastBySubject };
  if (query.nextBySubject === undefined) return { seq: query.seq };
  return { seq: query.seq, next_by_subj: query.nextBySubject };
}

function directMessage(stream: string, msg: Msg): DirectMessage | undefined {
  const code = msg.headers?.code ?? 0;
  if (code === 404) return undefined;
  if (code >= 400 || !msg.headers)
    throw new Error(`direct get on ${stream}: ${msg.headers?.description ?? code}`);
  return {
    seq: Number(msg.headers.get("Nats-Sequence")),
    data: msg.data,
    operation: msg.headers.get("KV-Operation") || "PUT",
  };
}
