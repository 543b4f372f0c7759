import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalogue, type Mutant } from "./catalogue.js";
import { applyMutant, occurrences, staleness } from "./patch.js";
import { checkLinks } from "./workspace.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const catalogue = loadCatalogue(join(root, "conformance/mutants/catalogue"));
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cebus-patch-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary root holding a copy of the mutant's one file at the same path. */
function copyOfFile(mutant: Mutant): string {
  const dir = tempDir();
  mkdirSync(dirname(join(dir, mutant.file)), { recursive: true });
  copyFileSync(join(root, mutant.file), join(dir, mutant.file));
  return dir;
}

describe("applying a mutant", () => {
  it.each(catalogue.map((m) => [m.id, m] as const))(
    "%s - applies once and restores byte for byte",
    (_, m) => {
      const dir = copyOfFile(m);
      const before = readFileSync(join(dir, m.file));
      const applied = applyMutant(dir, m);
      const mutated = readFileSync(join(dir, m.file), "utf8");
      expect(occurrences(mutated, m.replace)).toBeGreaterThanOrEqual(1);
      expect(mutated.length - before.toString("utf8").length).toBe(m.replace.length - m.find.length);
      applied.restore();
      expect(readFileSync(join(dir, m.file)).equals(before)).toBe(true);
    },
  );

  it("refuses a stale mutant and leaves the file alone", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.ts"), "x = 1;\nx = 1;\n");
    const mutant = { ...(catalogue[0] as Mutant), file: "a.ts", find: "x = 1;", replace: "x = 2;" };
    expect(staleness(dir, mutant)).toMatch(/occurs 2 times/);
    expect(() => applyMutant(dir, mutant)).toThrow(/stale/);
    expect(staleness(dir, { ...mutant, find: "y = 1;" })).toMatch(/no longer occurs/);
    expect(staleness(dir, { ...mutant, file: "gone.ts" })).toMatch(/does not exist/);
    expect(readFileSync(join(dir, "a.ts"), "utf8")).toBe("x = 1;\nx = 1;\n");
  });
});

describe("workspace links", () => {
  it("accepts relative links inside the copy and refuses one that leads back out", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "packages/core"), { recursive: true });
    mkdirSync(join(dir, "node_modules/@cebus"), { recursive: true });
    symlinkSync("../../packages/core", join(dir, "node_modules/@cebus/core"));
    expect(() => checkLinks(dir)).not.toThrow();
    symlinkSync(join(root, "packages/broker"), join(dir, "node_modules/@cebus/broker"));
    expect(() => checkLinks(dir)).toThrow(/links outside the copy/);
  });
});
