import { execFileSync } from "node:child_process";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packingPython, packPython } from "./python.mjs";
import { outsideRepo, pointSnippetAt, readmeBlock, removeDir, startBroker } from "./try-artefact.mjs";

const dirs = [];
let artefacts = [];

beforeAll(async () => {
  const outDir = outsideRepo("cebus-pack-python-");
  dirs.push(outDir);
  artefacts = await packPython(outDir);
}, 300_000);
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

const artefact = (suffix) => {
  const found = artefacts.find(({ file }) => file.endsWith(suffix));
  if (!found) throw new Error(`packPython wrote no *${suffix}: ${JSON.stringify(artefacts)}`);
  return found.file;
};

const sh = (command, args, options = {}) =>
  execFileSync(command, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
    ...options,
  });

/** A new virtualenv in a new directory outside the repository with `artefact` pip-installed (deps from PyPI). */
function installInFreshVenv(artefactFile) {
  const dir = outsideRepo("cebus-try-python-");
  dirs.push(dir);
  sh("python3", ["-m", "venv", join(dir, "venv")]);
  const python = join(dir, "venv/bin/python");
  sh(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", artefactFile], { cwd: dir });
  return { dir, python };
}

/** Runs the first ```python block of sdks/python/README.md, pointed at a fresh broker, from `dir`. */
async function runReadmeSnippet(python, dir) {
  const broker = await startBroker();
  try {
    const program = pointSnippetAt(readmeBlock("sdks/python/README.md", "python"), broker.url);
    return sh(python, ["-c", program], { cwd: dir, timeout: 60_000 });
  } finally {
    await broker.stop();
  }
}

describe("packPython", () => {
  it("writes a wheel and an sdist named for the package version, both accepted by twine check --strict", () => {
    expect(artefacts.map(({ file }) => basename(file)).sort()).toEqual([
      "cebus-0.1.0-py3-none-any.whl",
      "cebus-0.1.0.tar.gz",
    ]);
    for (const { bytes } of artefacts) expect(bytes).toBeGreaterThan(10_000);
    const check = sh(packingPython(), [
      "-m",
      "twine",
      "check",
      "--strict",
      ...artefacts.map(({ file }) => file),
    ]);
    expect(check.match(/PASSED/g)).toHaveLength(2);
  });

  it.each([
    ["wheel", "-py3-none-any.whl"],
    ["sdist", ".tar.gz"],
  ])(
    "the %s installs into a fresh virtualenv outside the repo and runs the README snippet against a broker",
    async (_, suffix) => {
      const { dir, python } = installInFreshVenv(artefact(suffix));
      const where = sh(python, ["-c", "import cebus; print(cebus.__file__)"], { cwd: dir }).trim();
      expect(where.startsWith(join(dir, "venv"))).toBe(true); // the installed copy, not the repository's sources
      const license = sh(python, [
        "-c",
        "import importlib.metadata as m; print(m.metadata('cebus')['License-Expression'])",
      ]);
      expect(license.trim()).toBe("Apache-2.0");
      expect((await runReadmeSnippet(python, dir)).trim()).toBe("{'id': 42}");
    },
    240_000,
  );
});
