import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrokerProcess, type CliResult, repoRoot, runProcess, startBroker } from "./index.js";

// README.md, run as a newcomer would: the ten-line snippet, then every line of "The CLI", in order, against one
// fresh broker. A line's `# → text` comment is what it must print.

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");

/** The first fenced block of `language` after the heading `## title`. */
function fencedBlock(title: string, language: string): string {
  const section = readme.slice(readme.indexOf(`## ${title}\n`));
  const match = new RegExp("```" + language + "\\n([\\s\\S]*?)\\n```").exec(section);
  if (!readme.includes(`## ${title}\n`) || !match?.[1]) {
    throw new Error(`README.md has no \`\`\`${language} block under "## ${title}"`);
  }
  return match[1];
}

interface ShellLine {
  command: string;
  prints: string | undefined;
}

/** Shell lines with their comment split off: `cmd   # → expected` or `cmd   # prose`. */
function shellLines(block: string): ShellLine[] {
  return block
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [command = "", comment] = line.split(/\s{2,}# /, 2);
      return { command: command.trim(), prints: comment?.startsWith("→ ") ? comment.slice(2) : undefined };
    });
}

const run = (command: string, args: string[], env: Record<string, string>) =>
  runProcess(command, args, { env, cwd: repoRoot, timeoutMs: 60_000 });

describe("README.md runs top to bottom as written", () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker({ store: "memory" });
  });
  afterAll(async () => {
    await broker?.[Symbol.asyncDispose]();
  });

  it("the ten-line snippet publishes and consumes one event (on this Node, and on Node 20 where installed)", async () => {
    const snippet = fencedBlock("Publish and consume in ten lines", "ts");
    expect(snippet.split("\n").length).toBeLessThanOrEqual(10);
    expect(snippet).toContain('"http://127.0.0.1:8080"');
    // Saved at the repository root as the README says: a folder there resolves @cebus/client the same way.
    mkdirSync(join(repoRoot, "node_modules/.cache"), { recursive: true });
    const dir = mkdtempSync(join(repoRoot, "node_modules/.cache/readme-"));
    const file = join(dir, "hello.mjs");
    writeFileSync(file, snippet.replace('"http://127.0.0.1:8080"', JSON.stringify(broker.url)));
    try {
      const nodes = [process.execPath, ...(existsSync("/usr/bin/node") ? ["/usr/bin/node"] : [])];
      for (const node of nodes) {
        const result = await run(node, [file], {});
        expect(result.stderr, `${node} hello.mjs`).toBe("");
        expect(result.code, `${node} hello.mjs`).toBe(0);
        expect(result.stdout).toBe("{ id: 42 }\n");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("every line of the CLI section exits 0 and prints what the README says", async () => {
    const lines = shellLines(fencedBlock("The CLI", "sh"));
    expect(lines.length).toBeGreaterThanOrEqual(9);
    const outputs: CliResult[] = [];
    for (const line of lines) {
      expect(line.command).toMatch(/^\.\/tools\/run cebus /);
      // The test run has built everything: CEBUS_NO_BUILD skips tools/run's install and build, nothing else.
      const result = await run("bash", ["-c", line.command], { CEBUS_URL: broker.url, CEBUS_NO_BUILD: "1" });
      expect(result.stderr.startsWith("error"), `${line.command}\n${result.stderr}`).toBe(false);
      expect(result.code, `${line.command}\n${result.stderr}`).toBe(0);
      if (line.prints !== undefined) expect(result.stdout, line.command).toContain(line.prints);
      outputs.push(result);
    }
    const byCommand = (part: string) => outputs[lines.findIndex((l) => l.command.includes(part))];
    const json = byCommand("--subscription ledger --max 10 --json")?.stdout.trim().split("\n") ?? [];
    expect(json).toHaveLength(10);
    for (const event of json)
      expect(JSON.parse(event)).toMatchObject({ specversion: "1.0", source: expect.any(String) });
    expect(byCommand("consume payments --from earliest --max 3")?.stdout.trim().split("\n")).toHaveLength(3);
    expect(byCommand("--count 10000")?.stderr).toMatch(/publish payments: 10000 events in [\d.]+ s/);
  }, 180_000);
});
