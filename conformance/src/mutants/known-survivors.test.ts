import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadCatalogue } from "./catalogue.js";
import { judgeRun, loadKnownSurvivors } from "./known-survivors.js";
import { formatSection, mergeIntoReport } from "./mutant-report.js";
import { judgeResults, type MutantResult } from "./run-mutant.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

const result = (id: string, status: MutantResult["status"]): MutantResult => ({
  id,
  guarantee: "g",
  description: "d",
  file: "f",
  status,
  caughtBy: status === "KILLED" ? ["a/b"] : [],
  detail: "",
  casesRun: 1,
  seconds: 1,
});

describe("known survivors", () => {
  it("the list in git names only mutants of the catalogue", () => {
    const ids = new Set(loadCatalogue(join(root, "conformance/mutants/catalogue")).map((m) => m.id));
    for (const backend of ["sqlite", "redis", "postgres", "nats"]) {
      for (const client of ["node", "go", "python", "browser"]) {
        const known = loadKnownSurvivors(
          join(root, "conformance/mutants/known-survivors.yaml"),
          backend,
          client,
        );
        for (const id of known.keys()) expect(ids.has(id), id).toBe(true);
      }
    }
  });

  it("applies an entry to its backend and client only", () => {
    const dir = mkdtempSync(join(tmpdir(), "cebus-survivors-"));
    try {
      const path = join(dir, "known.yaml");
      writeFileSync(path, "- { id: a, reason: r1 }\n- { id: b, reason: r2, backend: redis, client: go }\n");
      expect([...loadKnownSurvivors(path, "sqlite", "node").keys()]).toEqual(["a"]);
      expect([...loadKnownSurvivors(path, "redis", "go").keys()]).toEqual(["a", "b"]);
      writeFileSync(path, "- { id: a }\n");
      expect(() => loadKnownSurvivors(path, "sqlite", "node")).toThrow(/needs id and reason/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails the run for an unlisted survivor, a listed mutant that is killed, a stale one and a build error", () => {
    const known = new Map([
      ["listed-survivor", "why"],
      ["listed-killed", "why"],
    ]);
    const verdict = judgeRun(
      [
        result("killed", "KILLED"),
        result("skipped", "SKIPPED"),
        result("listed-survivor", "SURVIVED"),
        result("unlisted", "SURVIVED"),
        result("listed-killed", "KILLED"),
        result("stale", "STALE"),
        result("broken", "BUILD-ERROR"),
      ],
      known,
    );
    expect(verdict.expected).toEqual(["listed-survivor"]);
    expect(verdict.problems).toHaveLength(4);
    expect(verdict.problems.join("\n")).toMatch(/unlisted: SURVIVED and is not in known-survivors.yaml/);
    expect(verdict.problems.join("\n")).toMatch(
      /listed-killed: now killed: remove it from known-survivors.yaml/,
    );
    expect(verdict.problems.join("\n")).toMatch(/stale: STALE/);
    expect(verdict.problems.join("\n")).toMatch(/broken: BUILD-ERROR/);
  });
});

describe("judging a conformance report", () => {
  const report = (results: unknown[], known: Record<string, string> = {}) =>
    JSON.stringify({ columns: [{ results, known }] });

  it("is KILLED by the failing cases, with the first anomaly", () => {
    const outcome = judgeResults(
      report([
        { id: "a/pass", status: "passed", anomalies: [] },
        { id: "a/fail", status: "failed", anomalies: [{ kind: "duplicated", id: "e1", detail: "twice" }] },
        { id: "a/also", status: "failed", anomalies: [] },
      ]),
    );
    expect(outcome.status).toBe("KILLED");
    expect(outcome.caughtBy).toEqual(["a/fail", "a/also"]);
    expect(outcome.detail).toBe("a/fail: duplicated e1: twice");
    expect(outcome.casesRun).toBe(3);
  });

  it("a case that fails unmutated kills no mutant", () => {
    const outcome = judgeResults(
      report([{ id: "a/flaky", status: "failed", anomalies: [{ kind: "lost", detail: "x" }] }]),
      new Set(["a/flaky"]),
    );
    expect(outcome.status).toBe("SURVIVED");
    expect(outcome.detail).toMatch(/fail unmutated too: a\/flaky/);
  });

  it("SURVIVED when only known failures fail, and says when no case ran at all", () => {
    const known = judgeResults(
      report([{ id: "a/k", status: "failed", anomalies: [{ kind: "lost", detail: "x" }] }], { "a/k": "why" }),
    );
    expect(known.status).toBe("SURVIVED");
    const none = judgeResults(report([{ id: "a/s", status: "skipped", anomalies: [] }]));
    expect(none.status).toBe("SURVIVED");
    expect(none.detail).toMatch(/no case ran/);
  });
});

describe("the committed report", () => {
  const meta = (backend: string) => ({
    date: "d",
    backend,
    client: "node",
    seconds: 60,
    cores: 2,
    tree: "last commit",
    failingUnmutated: [],
  });

  it("keeps one section per backend and client, replacing the one of the same run", () => {
    const first = mergeIntoReport(
      undefined,
      formatSection([result("a", "KILLED")], new Map(), meta("sqlite")),
    );
    const second = mergeIntoReport(first, formatSection([result("b", "KILLED")], new Map(), meta("redis")));
    const third = mergeIntoReport(
      second,
      formatSection([result("c", "SURVIVED")], new Map(), meta("sqlite")),
    );
    expect(third.match(/^## /gm)).toHaveLength(2);
    expect(third.indexOf("## redis · node")).toBeLessThan(third.indexOf("## sqlite · node"));
    expect(third).toContain("| c | g | SURVIVED |");
    expect(third).not.toContain("| a | g | KILLED |");
    expect(third).toContain("| b | g | KILLED |");
  });
});
