import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseSuite } from "../case.js";
import { globToRegExp } from "../glob.js";
import { loadCatalogue, notApplicable, parseCatalogue } from "./catalogue.js";
import { staleness } from "./patch.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const catalogue = loadCatalogue(join(root, "conformance/mutants/catalogue"));
const suites = join(root, "conformance/suites");
const caseIds = readdirSync(suites)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => parseSuite(readFileSync(join(suites, f), "utf8"), f).map((c) => c.id));

describe("mutant catalogue", () => {
  it("holds at least 40 mutants with unique ids", () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(40);
    expect(new Set(catalogue.map((m) => m.id)).size).toBe(catalogue.length);
  });

  // The staleness guard that runs in CI: a mutant whose code moved must be moved with it.
  it.each(catalogue.map((m) => [m.id, m] as const))(
    "%s - find occurs exactly once in its file",
    (_, mutant) => {
      expect(staleness(root, mutant)).toBeUndefined();
      expect(mutant.replace).not.toBe(mutant.find);
    },
  );

  it.each(catalogue.map((m) => [m.id, m] as const))("%s - every cases glob selects a case", (_, mutant) => {
    for (const glob of mutant.cases) {
      const selector = globToRegExp(glob);
      expect(
        caseIds.some((id) => selector.test(id)),
        `${mutant.id}: ${glob}`,
      ).toBe(true);
    }
  });

  it("store mutants run on their own backend only and SDK mutants with their own client", () => {
    for (const m of catalogue) {
      const store = /^packages\/store-(sqlite|redis|postgres|nats)\//.exec(m.file)?.[1];
      if (store) expect(m.backends, m.id).toEqual([store]);
      if (m.file.startsWith("sdks/go/")) expect(m.clients, m.id).toEqual(["go"]);
      if (m.file.startsWith("sdks/python/")) expect(m.clients, m.id).toEqual(["python"]);
    }
  });

  it("runs at least 20 mutants on sqlite with the node client", () => {
    expect(catalogue.filter((m) => !notApplicable(m, "sqlite", "node")).length).toBeGreaterThanOrEqual(20);
  });
});

describe("catalogue parsing", () => {
  it("rejects a mutant without find, naming the file and the field", () => {
    const text = "- { id: a, guarantee: g, description: d, file: f, replace: r, cases: [x/*] }";
    expect(() => parseCatalogue(text, "bad.yaml")).toThrow(/bad.yaml\[0\]: 'find' is missing/);
  });

  it("rejects an unknown backend", () => {
    const text =
      "- { id: a, guarantee: g, description: d, file: f, find: x, replace: y, cases: [x/*], backends: [mysql] }";
    expect(() => parseCatalogue(text, "bad.yaml")).toThrow(/'backends' holds "mysql"/);
  });

  it("rejects an id used in two catalogue files", () => {
    const dir = mkdtempSync(join(tmpdir(), "cebus-catalogue-"));
    try {
      const entry =
        "- { id: twice, guarantee: g, description: d, file: f, find: x, replace: y, cases: [x/*] }\n";
      writeFileSync(join(dir, "a.yaml"), entry);
      writeFileSync(join(dir, "b.yaml"), entry);
      expect(() => loadCatalogue(dir)).toThrow(/mutant id 'twice' is used twice/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("defaults backends and clients to all of them", () => {
    const [m] = parseCatalogue(
      "- { id: a, guarantee: g, description: d, file: f, find: x, replace: y, cases: x/* }",
      "ok.yaml",
    );
    expect(m?.backends).toEqual(["sqlite", "redis", "postgres", "nats"]);
    expect(m?.clients).toEqual(["node", "go", "python", "browser"]);
    expect(m?.cases).toEqual(["x/*"]);
  });
});
