import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliPath, nodeFlagsOf, startBroker } from "./broker-process.js";

describe("the broker's Node flags", () => {
  it("come from the binary's shebang, so a started broker runs as an installed cebus does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cebus-flags-"));
    try {
      const file = (first: string) => {
        const path = join(dir, `${Math.random()}.js`);
        writeFileSync(path, `${first}\nconsole.log(1);\n`);
        return path;
      };
      expect(nodeFlagsOf(file("#!/usr/bin/env -S node --a=1 --b"))).toEqual(["--a=1", "--b"]);
      expect(nodeFlagsOf(file("#!/usr/bin/env node"))).toEqual([]);
      expect(nodeFlagsOf(file("// no shebang"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A young generation of at most 16 MiB per semi-space: Node 24 would grow it to 64 MiB (over 130 MB of RSS).
    expect(nodeFlagsOf(cliPath)).toContain("--max-semi-space-size=16");
    await using broker = await startBroker({ store: "memory" });
    const argv = readFileSync(`/proc/${broker.pid}/cmdline`, "utf8").split("\0");
    expect(argv).toContain("--max-semi-space-size=16");
  });
});
