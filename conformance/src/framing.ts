import type { Readable, Writable } from "node:stream";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";

/**
 * Size-delimited Protobuf framing of the client-under-test protocol: each message is preceded by its length as a
 * 4-byte big-endian unsigned integer (as in connectrpc/conformance).
 */
export function writeFrame<Desc extends DescMessage>(
  out: Writable,
  schema: Desc,
  message: MessageShape<Desc>,
): boolean {
  const body = toBinary(schema, message);
  const frame = Buffer.allocUnsafe(4 + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  frame.set(body, 4);
  return out.write(frame);
}

/** Reads frames until the stream ends. A truncated last frame is an error. */
export async function* readFrames<Desc extends DescMessage>(
  input: Readable,
  schema: Desc,
): AsyncGenerator<MessageShape<Desc>> {
  let buffer: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    buffer = buffer.length === 0 ? (chunk as Buffer) : Buffer.concat([buffer, chunk as Buffer]);
    while (buffer.length >= 4) {
      const size = buffer.readUInt32BE(0);
      if (buffer.length < 4 + size) break;
      yield fromBinary(schema, buffer.subarray(4, 4 + size));
      buffer = buffer.subarray(4 + size);
    }
  }
  if (buffer.length > 0) throw new Error(`stream ended inside a frame (${buffer.length} bytes left)`);
}
