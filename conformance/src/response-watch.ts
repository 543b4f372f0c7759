/**
 * Spots, in the bytes a broker sends on one connection, the moment it has sent a whole response: for HTTP/2 the
 * frame that ends a stream (HEADERS or DATA with END_STREAM; not the SETTINGS, PING or WINDOW_UPDATE frames of the
 * connection), for HTTP/1.1 the first bytes of a response (a server sends nothing unasked; a response written in
 * pieces may then reach the client cut). The proxy uses it to kill the broker the instant its publish ack leaves.
 */
export interface ResponseWatch {
  /** The client's bytes: the first ones say which protocol the connection speaks. */
  fromClient(chunk: Buffer): void;
  /** The broker's bytes; true when a response ends (HTTP/2) or starts (HTTP/1.1) in this chunk. */
  fromBroker(chunk: Buffer): boolean;
}

const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FRAME_HEADER = 9;
const DATA = 0x0;
const HEADERS = 0x1;
const END_STREAM = 0x1;

export function createResponseWatch(): ResponseWatch {
  let protocol: "h2" | "http/1.1" | undefined;
  let pending = Buffer.alloc(0); // an incomplete frame header
  let skip = 0; // payload bytes of the current frame still to come

  /** Walks the HTTP/2 frames of a chunk (frames may span chunks); true on a frame that ends a stream. */
  function h2Frames(chunk: Buffer): boolean {
    let ended = false;
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, data.length);
        skip -= n;
        data = data.subarray(n);
      }
      if (data.length === 0) return ended;
      if (data.length < FRAME_HEADER) {
        pending = Buffer.from(data);
        return ended;
      }
      const length = data.readUIntBE(0, 3);
      const type = data[3];
      const flags = data[4] ?? 0;
      const stream = data.readUInt32BE(5) & 0x7fffffff;
      if ((type === HEADERS || type === DATA) && flags & END_STREAM && stream !== 0) ended = true;
      skip = length;
      data = data.subarray(FRAME_HEADER);
    }
  }

  return {
    fromClient(chunk) {
      if (protocol !== undefined || chunk.length === 0) return;
      const head = chunk.subarray(0, h2Preface.length);
      protocol = h2Preface.subarray(0, head.length).equals(head) ? "h2" : "http/1.1";
    },
    fromBroker(chunk) {
      if (protocol === "h2") return h2Frames(chunk);
      return chunk.length > 0;
    },
  };
}
