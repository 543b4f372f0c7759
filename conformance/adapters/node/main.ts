#!/usr/bin/env node
// The Node client under test: drives @cebus/client through its public API only, speaking the size-delimited
// client protocol (cebus.conformance.v1) on stdin/stdout.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@cebus/client";
import { ClientCommandSchema, ClientEventSchema } from "@cebus/proto/conformance";
import { readFrames, writeFrame } from "../../src/framing.js";
import { createDriver } from "../driver.js";

const driver = createDriver({
  createClient: (url) => createClient({ url }),
  emit: (event) => writeFrame(process.stdout, ClientEventSchema, create(ClientEventSchema, { event })),
});

for await (const command of readFrames(process.stdin, ClientCommandSchema)) {
  // Commands run concurrently (a slow settle must not hold up a publish); results carry the command id.
  void driver
    .run(command)
    .then((result) =>
      writeFrame(
        process.stdout,
        ClientEventSchema,
        create(ClientEventSchema, { event: { case: "result", value: result } }),
      ),
    );
}
await driver.close();
