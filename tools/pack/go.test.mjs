import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goModulePath, goModuleVersion, packGo } from "./go.mjs";
import {
  outsideRepo,
  pointSnippetAt,
  readmeBlock,
  removeDir,
  repoRoot,
  startBroker,
} from "./try-artefact.mjs";

const dirs = [];
let proxy = "";
let written = [];
/** A module cache of this run only, so a v0.1.0 cached by an earlier pack can never stand in for this one. */
let modcache = "";
/** The machine's module cache, read as one more proxy: the SDK's dependencies come from it when it has them. */
const sharedCache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();

beforeAll(async () => {
  const outDir = outsideRepo("cebus-pack-go-");
  modcache = outsideRepo("cebus-try-go-modcache-");
  dirs.push(outDir);
  proxy = join(outDir, "goproxy");
  written = await packGo(outDir);
}, 180_000);
afterAll(() => {
  if (modcache) go(["clean", "-modcache"], repoRoot, goEnv([])); // its files are read-only
  for (const dir of [...dirs, modcache]) removeDir(dir);
});

/** The environment of sdks/go/README.md's go get line, with `proxies` first in GOPROXY. */
function goEnv(proxies) {
  const fallbacks = [`file://${sharedCache}/cache/download`, "https://proxy.golang.org"];
  return {
    ...process.env,
    GOMODCACHE: modcache,
    GOPROXY: [...proxies, ...fallbacks].join(","),
    GONOSUMDB: "github.com/cebus/cebus",
    GOFLAGS: "-mod=mod",
  };
}

function go(args, cwd, env) {
  return execFileSync("go", args, {
    cwd,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
}

/** A new module example.com/try outside the repository whose main function is the README's ```go block. */
function newModuleRunningTheSnippet(url) {
  const dir = outsideRepo("cebus-try-go-");
  dirs.push(dir);
  go(["mod", "init", "example.com/try"], dir, goEnv([]));
  const snippet = pointSnippetAt(readmeBlock("sdks/go/README.md", "go"), url);
  const imports = `import (\n\t"context"\n\t"fmt"\n\n\tcebus "${goModulePath}"\n)\n\n`;
  writeFileSync(join(dir, "main.go"), `package main\n\n${imports}func main() {\n${snippet}}\n`);
  return dir;
}

async function withBroker(body) {
  const broker = await startBroker();
  try {
    return await body(broker.url);
  } finally {
    await broker.stop();
  }
}

describe("packGo", () => {
  it("writes the module's list, info, go.mod and zip in the GOPROXY layout", () => {
    const versions = join(proxy, goModulePath, "@v");
    expect(written.map(({ file }) => file).sort()).toEqual(
      ["list", `${goModuleVersion}.info`, `${goModuleVersion}.mod`, `${goModuleVersion}.zip`].map((f) =>
        join(versions, f),
      ),
    );
    expect(readFileSync(join(versions, "list"), "utf8")).toBe(`${goModuleVersion}\n`);
    expect(JSON.parse(readFileSync(join(versions, `${goModuleVersion}.info`), "utf8")).Version).toBe(
      goModuleVersion,
    );
    const goMod = readFileSync(join(repoRoot, "sdks/go/go.mod"), "utf8");
    expect(readFileSync(join(versions, `${goModuleVersion}.mod`), "utf8")).toBe(goMod);
  });

  it("go get through the file proxy, as the README says, fetches it into a new module that runs the README snippet", async () => {
    const output = await withBroker(async (url) => {
      const dir = newModuleRunningTheSnippet(url);
      go(["get", `${goModulePath}@${goModuleVersion}`], dir, goEnv([`file://${proxy}`]));
      expect(readFileSync(join(dir, "go.sum"), "utf8")).toContain(`${goModulePath} ${goModuleVersion} h1:`);
      return go(["run", "."], dir, goEnv([`file://${proxy}`]));
    });
    expect(output.trim()).toBe('{"id":42}');
    // What the go command cached is the zip packGo wrote, byte for byte: it came from the file proxy.
    const zip = `${goModuleVersion}.zip`;
    const cached = readFileSync(join(modcache, "cache/download", goModulePath, "@v", zip));
    expect(cached.equals(readFileSync(join(proxy, goModulePath, "@v", zip)))).toBe(true);
  }, 240_000);

  it("a replace directive pointing at the clone's sdks/go, as the README says, also runs the README snippet", async () => {
    const output = await withBroker(async (url) => {
      const dir = newModuleRunningTheSnippet(url);
      go(["mod", "edit", "-replace", `${goModulePath}=${join(repoRoot, "sdks/go")}`], dir, goEnv([]));
      go(["mod", "tidy"], dir, goEnv([]));
      expect(readFileSync(join(dir, "go.mod"), "utf8")).toContain(`=> ${join(repoRoot, "sdks/go")}`);
      return go(["run", "."], dir, goEnv([]));
    });
    expect(output.trim()).toBe('{"id":42}');
  }, 240_000);
});
