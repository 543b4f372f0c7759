// The browser client under test, bundled for the page: the shared driver over @cebus/client's browser build
// (connect-web, the Receive stream and unary settles). The Node shim (main.ts) hands commands in as base64 frames
// through `cebusRun`; results, deliveries and notices go back out through `cebusEmit`. Both directions carry
// batches: one DevTools round trip per batch instead of one per frame keeps the added latency low.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { createClient } from "@cebus/client";
import { ClientCommandSchema, type ClientEvent, ClientEventSchema } from "@cebus/proto/conformance";
import { createDriver } from "../driver.js";

/** What the page offers the shim, and the function the shim exposes to it. */
export interface PageBridge {
  cebusEmit(frames: string[]): void;
  cebusRun(frames: string[]): void;
  cebusClose(): Promise<void>;
}

const bridge = globalThis as unknown as PageBridge;

const outgoing: string[] = [];
function emit(event: ClientEvent["event"]): void {
  // Everything emitted in one task (a batch of deliveries) leaves in one call.
  if (outgoing.length === 0) setTimeout(() => bridge.cebusEmit(outgoing.splice(0)), 0);
  outgoing.push(base64Encode(toBinary(ClientEventSchema, create(ClientEventSchema, { event }))));
}

const driver = createDriver({ createClient: (url) => createClient({ url }), emit });
bridge.cebusRun = (frames) => {
  // Commands run concurrently (a slow settle must not hold up a publish); results carry the command id.
  for (const frame of frames) {
    void driver
      .run(fromBinary(ClientCommandSchema, base64Decode(frame)))
      .then((result) => emit({ case: "result", value: result }));
  }
};
bridge.cebusClose = () => driver.close();
