// The Go SDK as a module the go command resolves without a registry: outDir/goproxy is a GOPROXY directory
// (file:///.../goproxy) holding github.com/cebus/cebus/sdks/go@v0.1.0, its zip made by golang.org/x/mod/zip (the
// go command's own code, in tools/pack/gozip) from the files git tracks under sdks/go.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const sdk = join(root, "sdks/go");
export const goModulePath = "github.com/cebus/cebus/sdks/go";
/** The version written; keep in step with the other SDKs (0.1.0) and the go get line of sdks/go/README.md. */
export const goModuleVersion = "v0.1.0";

/** Writes outDir/goproxy/<module>/@v/{list,.info,.mod,.zip}; returns `{ file, bytes }` per file written. */
export async function packGo(outDir) {
  const proxy = join(outDir, "goproxy");
  const staging = mkdtempSync(join(tmpdir(), "cebus-pack-go-"));
  try {
    progress(`copying the files git tracks under sdks/go`);
    const moduleDir = stageTrackedFiles(staging);
    progress(`writing ${goModulePath}@${goModuleVersion} into ${proxy} (golang.org/x/mod/zip)`);
    const args = ["-module", goModulePath, "-version", goModuleVersion, "-dir", moduleDir, "-proxy", proxy];
    const time = lastChangeTime();
    go(["run", ".", ...args, ...(time ? ["-time", time] : [])], join(root, "tools/pack/gozip"));
    const versions = join(proxy, goModulePath, "@v");
    return readdirSync(versions).map((name) => {
      const file = join(versions, name);
      return { file, bytes: statSync(file).size };
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Copies sdks/go's git-tracked files (as they are in the work tree) into `staging`, so nothing a test run left
 * behind ends up in the module zip; outside a git checkout, the module directory is used as it is.
 */
function stageTrackedFiles(staging) {
  let tracked;
  try {
    tracked = execFileSync("git", ["ls-files", "-z", "--", "."], {
      cwd: sdk,
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch {
    return sdk;
  }
  const files = tracked.split("\0").filter((file) => file && existsSync(join(sdk, file)));
  if (!files.includes("go.mod")) return sdk;
  for (const file of files) {
    mkdirSync(dirname(join(staging, file)), { recursive: true });
    copyFileSync(join(sdk, file), join(staging, file));
  }
  return staging;
}

/** The time of the last commit that changed sdks/go (the version's time in .info), or undefined outside git. */
function lastChangeTime() {
  try {
    const time = execFileSync("git", ["log", "-1", "--format=%cI", "--", "."], {
      cwd: sdk,
      encoding: "utf8",
    });
    return time.trim() || undefined;
  } catch {
    return undefined;
  }
}

function go(args, cwd) {
  try {
    execFileSync("go", args, { cwd, stdio: "pipe", encoding: "utf8" });
  } catch (error) {
    if (error.code === "ENOENT")
      throw new Error("pack go: go was not found; install Go 1.26 or later (go.dev/dl)");
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim();
    throw new Error(
      `pack go: go ${args.join(" ")} (in ${relative(root, cwd)}) exited with ${error.status}\n${output}`,
    );
  }
}

function progress(step) {
  console.log(`pack go: ${step}`);
}
