import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const scripts = ["codegen.mjs", "generate.mjs", "check-generated.mjs"];
const runScript = (script, args) =>
  spawnSync(process.execPath, [join(root, "tools/codegen", script), ...args], { encoding: "utf8" });

describe("the codegen scripts' command lines", () => {
  it.each(scripts)("%s --help prints its usage and exits 0 (also after pnpm's `--`)", (script) => {
    for (const args of [["--help"], ["--", "--help"]]) {
      const result = runScript(script, args);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^usage: pnpm /);
      expect(result.stderr).toBe("");
    }
  });

  it.each(["codegen.mjs", "generate.mjs"])(
    "%s with an unknown option names it, exit 2, no stack trace",
    (script) => {
      const result = runScript(script, ["--colour", "blue"]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^error: Unknown option '--colour'/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it("codegen without --lang or --out says which are needed", () => {
    const result = runScript("codegen.mjs", ["--lang", "java"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error: give both --lang and --out\n/);
  });
});
