import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { completeFrames } from "./complete-frames.js";

function frame(data: Uint8Array, length = data.length): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  new DataView(out.buffer).setUint32(1, length);
  out.set(data, 5);
  return out;
}

/** The bytes in chunks cut at the given offsets. */
async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
  yield bytes.subarray(from);
}

async function read(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return new Uint8Array(Buffer.concat(parts));
}

const frames = fc
  .array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 })
  .map((ds) => ds.map((d) => frame(d)));
const cuts = fc.array(fc.nat(), { maxLength: 6 });

describe("complete frames", () => {
  it("passes whole frames through unchanged, however the body is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(frames, cuts, async (fs, at) => {
        const body = new Uint8Array(Buffer.concat(fs));
        expect(await read(completeFrames(chunked(body, at)))).toEqual(body);
      }),
    );
  });

  it("fails a body that ends inside a frame header or its data, however it is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(
        frames,
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.nat(),
        cuts,
        async (fs, data, cut, at) => {
          const last = frame(data);
          const body = new Uint8Array(
            Buffer.concat([...fs, last.subarray(0, 1 + (cut % (last.length - 1)))]),
          );
          await expect(read(completeFrames(chunked(body, at)))).rejects.toThrow(
            /ends inside a message frame/,
          );
        },
      ),
    );
  });
});
