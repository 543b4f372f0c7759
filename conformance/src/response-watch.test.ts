import { describe, expect, it } from "vitest";
import { createResponseWatch } from "./response-watch.js";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One HTTP/2 frame: 9-byte header (length, type, flags, stream) and a payload of `length` bytes. */
function frame(type: number, flags: number, stream: number, length = 4): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, Buffer.alloc(length, 0x1)]); // payload bytes that look like END_STREAM flags
}

const SETTINGS = 0x4;
const HEADERS = 0x1;
const DATA = 0x0;
const END_STREAM = 0x1;

describe("spotting a broker's response in the bytes", () => {
  it("on HTTP/2, fires on the frame that ends a stream, not on connection frames or a stream's first HEADERS", () => {
    const watch = createResponseWatch();
    watch.fromClient(preface);
    expect(watch.fromBroker(frame(SETTINGS, 0, 0))).toBe(false);
    expect(watch.fromBroker(frame(SETTINGS, END_STREAM, 0))).toBe(false); // stream 0 is the connection
    expect(watch.fromBroker(frame(HEADERS, 0x4, 1))).toBe(false); // END_HEADERS only
    expect(watch.fromBroker(frame(DATA, 0, 1))).toBe(false);
    expect(watch.fromBroker(frame(DATA, END_STREAM, 1))).toBe(true);
    expect(watch.fromBroker(frame(HEADERS, END_STREAM | 0x4, 3))).toBe(true); // gRPC trailers
  });

  it("follows frames split across chunks anywhere, payload included", () => {
    const watch = createResponseWatch();
    watch.fromClient(preface.subarray(0, 5)); // a preface cut short still says HTTP/2
    const bytes = Buffer.concat([frame(HEADERS, 0x4, 1, 30), frame(DATA, END_STREAM, 1, 17)]);
    const seen: boolean[] = [];
    for (let i = 0; i < bytes.length; i += 7) seen.push(watch.fromBroker(bytes.subarray(i, i + 7)));
    expect(seen.filter(Boolean)).toHaveLength(1);
    expect(seen.indexOf(true)).toBe(Math.floor((9 + 30 + 4) / 7)); // the chunk holding the DATA frame's flags
  });

  it("on HTTP/1.1, fires on any byte from the broker", () => {
    const watch = createResponseWatch();
    watch.fromClient(Buffer.from("POST /cebus.v1.PublisherService/Publish HTTP/1.1\r\n"));
    expect(watch.fromBroker(Buffer.from("HTTP/1.1 200 OK\r\n"))).toBe(true);
  });
});
