import { PassThrough } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { ClientEventSchema } from "@cebus/proto/conformance";
import { describe, expect, it } from "vitest";
import { readFrames, writeFrame } from "./framing.js";

const notice = (text: string) => create(ClientEventSchema, { event: { case: "notice", value: text } });

describe("size-delimited framing", () => {
  it("reads back every message however the bytes are chunked", async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on("data", (c: Buffer) => chunks.push(c));
    const texts = ["a", "", "x".repeat(70_000), "last"];
    for (const t of texts) writeFrame(sink, ClientEventSchema, notice(t));
    const all = Buffer.concat(chunks);
    const input = new PassThrough();
    for (let i = 0; i < all.length; i += 7) input.write(all.subarray(i, i + 7)); // frames split mid-header
    input.end();
    const got: string[] = [];
    for await (const m of readFrames(input, ClientEventSchema)) got.push(m.event.value as string);
    expect(got).toEqual(texts);
  });

  it("fails on a stream that ends inside a frame", async () => {
    const input = new PassThrough();
    input.end(Buffer.from([0, 0, 0, 9, 1, 2]));
    await expect(async () => {
      for await (const _ of readFrames(input, ClientEventSchema)) {
        // nothing
      }
    }).rejects.toThrow("stream ended inside a frame");
  });
});
