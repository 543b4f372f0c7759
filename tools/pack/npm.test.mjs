// The npm tarballs as a newcomer uses them: `node tools/pack/pack.mjs`, then `npm i` of the tarballs into an empty
// folder outside the repository, then the client README's snippet against a broker of the installed CLI, the
// installed `cebus` command, and the vitest example of packages/testing/README.md with the installed @cebus/testing.
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmPackages, stageDirOf } from "./npm.mjs";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "cebus-npm-artefacts-"));
const outDir = join(work, "dist-pack");
const project = join(work, "project");
const tarballs = npmPackages.map(({ name }) => join(outDir, `${name.slice(1).replace("/", "-")}-0.1.0.tgz`));
const vitestVersion = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies.vitest;
/** Where the snippet of sdks/client/README.md connects; the test points it at the test's broker. */
const readmeUrl = "http://127.0.0.1:8080";
const brokers = [];

/**
 * The environment of every child: no variables of the vitest running this file (a nested vitest would take them as
 * its own), npm quiet, and this Node first on PATH (the installed bins start with `#!/usr/bin/env node`).
 */
function childEnv(extra = {}) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(VITEST|TINYPOOL|NODE_OPTIONS$|NODE_ENV$|TEST$)/.test(key),
    ),
  );
  const path = `${dirname(process.execPath)}:${env.PATH ?? ""}`;
  return { ...env, PATH: path, npm_config_update_notifier: "false", npm_config_fund: "false", ...extra };
}

/** Runs a command to the end; resolves `{ code, stdout, stderr }` (killed after timeoutMs). */
function run(command, args, { cwd = project, env = childEnv(), timeoutMs = 120_000 } = {}) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const fence = "```";

/** The first fenced block of a README in the language given (ts, sh, ...). */
function readmeBlock(readme, lang) {
  const text = readFileSync(join(root, readme), "utf8");
  const block = text.match(new RegExp(`${fence}${lang}\\n([\\s\\S]*?)${fence}`));
  if (!block) throw new Error(`${readme} has no ${fence}${lang} block`);
  return block[1];
}

/** `cebus serve --store memory --port 0` of the installed CLI; resolves its URL from the "cebus listening" line. */
async function startInstalledBroker() {
  const bin = join(project, "node_modules/.bin/cebus");
  const child = spawn(bin, ["serve", "--store", "memory", "--port", "0"], {
    cwd: project,
    env: childEnv(),
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const broker = {
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
  brokers.push(broker);
  let url;
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.includes('"cebus listening"')) continue;
    url = JSON.parse(line).url;
    break;
  }
  if (!url) throw new Error(`the installed cebus serve exited (${await exited}) before it listened`);
  child.stdout.resume(); // readline paused it on leaving the loop: keep draining the log so the broker never blocks
  return { ...broker, url };
}

/** Every package.json in a tarball, as text. */
function manifestsIn(tarball) {
  const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
  return listing
    .filter((entry) => entry.endsWith("/package.json") && !entry.includes("/src/"))
    .map((entry) => ({ entry, text: execFileSync("tar", ["-xzOf", tarball, entry], { encoding: "utf8" }) }));
}

beforeAll(async () => {
  const packed = await run(
    process.execPath,
    [join(root, "tools/pack/pack.mjs"), "--out", outDir, "--only", "npm"],
    {
      cwd: root,
    },
  );
  if (packed.code !== 0) throw new Error(`pack failed:\n${packed.stdout}${packed.stderr}`);
  console.log(packed.stdout);
  mkdirSync(project);
  for (const args of [
    ["init", "-y"],
    ["install", "--prefer-offline", "--no-audit", "--loglevel=error", ...tarballs, `vitest@${vitestVersion}`],
  ]) {
    const result = await run("npm", args);
    if (result.code !== 0) throw new Error(`npm ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  }
}, 240_000);

afterAll(async () => {
  for (const broker of brokers) await broker.stop();
  rmSync(work, { recursive: true, force: true });
});

// Each step runs npm or a whole program: generous per-test time for a loaded machine.
describe("npm tarballs installed into an empty folder outside the repository", { timeout: 180_000 }, () => {
  it("packs one tarball per package, each bundling its workspace packages, with no workspace: ranges left", () => {
    expect(project.startsWith(root)).toBe(false);
    expect(
      readdirSync(outDir)
        .filter((file) => file.endsWith(".tgz"))
        .sort(),
    ).toEqual(tarballs.map((file) => file.slice(outDir.length + 1)).sort());
    for (const tarball of tarballs) {
      const manifests = manifestsIn(tarball);
      const top = JSON.parse(manifests.find(({ entry }) => entry === "package/package.json").text);
      expect(top.bundleDependencies.length).toBeGreaterThan(0);
      for (const bundled of top.bundleDependencies) {
        expect(manifests.map(({ entry }) => entry)).toContain(`package/node_modules/${bundled}/package.json`);
      }
      for (const { entry, text } of manifests) expect(text, entry).not.toContain("workspace:");
      expect(top.private).toBeUndefined();
    }
  });

  it("npm publish --dry-run accepts every staged package as it is (nothing auto-corrected)", async () => {
    for (const { name } of npmPackages) {
      const result = await run("npm", ["publish", "--dry-run"], {
        cwd: stageDirOf(join(outDir, ".npm-stage"), name),
      });
      expect(result.code, `${name}:\n${result.stderr}`).toBe(0);
      expect(result.stdout + result.stderr).toContain(`+ ${name}@0.1.0`);
      expect(result.stderr + result.stdout).not.toMatch(/auto-corrected|errors corrected/);
    }
  });

  it("runs the snippet of sdks/client/README.md against `cebus serve` of the installed CLI, then `npx cebus topics list` shows its topic", async () => {
    const snippet = readmeBlock("sdks/client/README.md", "ts");
    const topic = snippet.match(/createTopic\("([^"]+)"/)?.[1];
    expect(topic, "the snippet creates a topic").toBeTruthy();
    const broker = await startInstalledBroker();
    writeFileSync(join(project, "snippet.mjs"), snippet.replaceAll(readmeUrl, broker.url));
    const ran = await run(process.execPath, ["snippet.mjs"], { timeoutMs: 60_000 });
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim()).not.toBe("");
    const listed = await run("npx", ["cebus", "topics", "list"], {
      env: childEnv({ CEBUS_URL: broker.url }),
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(topic);
  });

  it.skipIf(!existsSync("/usr/bin/node"))(
    "runs the same snippet with the system's Node (/usr/bin/node, 20 on these machines)",
    async () => {
      const broker = await startInstalledBroker();
      writeFileSync(
        join(project, "snippet-system-node.mjs"),
        readmeBlock("sdks/client/README.md", "ts").replaceAll(readmeUrl, broker.url),
      );
      const ran = await run("/usr/bin/node", ["snippet-system-node.mjs"], { timeoutMs: 60_000 });
      expect(ran.stderr).toBe("");
      expect(ran.code).toBe(0);
      expect(ran.stdout.trim()).not.toBe("");
    },
  );

  it("passes the vitest example of packages/testing/README.md with the installed @cebus/testing", async () => {
    const example = readmeBlock("packages/testing/README.md", "ts");
    expect(example).toContain("startTestBroker");
    writeFileSync(join(project, "readme-example.test.ts"), example);
    const report = join(project, "vitest-report.json");
    const result = await run(
      join(project, "node_modules/.bin/vitest"),
      ["run", "readme-example.test.ts", "--reporter=json", `--outputFile=${report}`],
      { timeoutMs: 120_000 },
    );
    expect(existsSync(report), `${result.stdout}${result.stderr}`).toBe(true);
    const summary = JSON.parse(readFileSync(report, "utf8"));
    expect(summary.numFailedTests, `${result.stdout}${result.stderr}`).toBe(0);
    expect(summary.numPassedTests).toBeGreaterThan(0);
    expect(summary.numPassedTests).toBe(summary.numTotalTests);
    expect(result.code).toBe(0);
  });

  it("loads the installed @cebus/testing without playwright-core, and its repo-only helpers say to use startTestBroker", async () => {
    expect(existsSync(join(project, "node_modules/playwright-core"))).toBe(false);
    const script = [
      'import { startBroker } from "@cebus/testing";',
      "const failure = await startBroker().then(() => undefined, (error) => error);",
      "console.log(JSON.stringify({ name: failure?.name, code: failure?.code, message: failure?.message }));",
    ].join("\n");
    writeFileSync(join(project, "repo-helper.mjs"), script);
    const ran = await run(process.execPath, ["repo-helper.mjs"], { timeoutMs: 60_000 });
    expect(ran.code, ran.stderr).toBe(0);
    const failure = JSON.parse(ran.stdout);
    expect(failure.name).toBe("CebusError");
    expect(failure.code).toBe("failed_precondition");
    expect(failure.message).toContain("outside the repository use startTestBroker()");
  });
});
