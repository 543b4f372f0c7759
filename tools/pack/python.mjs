// The Python SDK's installable artefacts: a wheel and an sdist of sdks/python, made by `python -m build` and checked
// by `twine check --strict` (the checks PyPI applies to metadata and the README). The tools live in a virtualenv
// of their own, .toolchain/python-pack, installed once from PyPI.
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const sdk = join(root, "sdks/python");
const venv = join(root, ".toolchain/python-pack");
/** What the packing virtualenv holds; changing this list reinstalls it. */
const tools = ["build==1.6.1", "twine==7.0.0"];

/** Builds the wheel and sdist of sdks/python into outDir; returns `{ file, bytes }` per artefact written. */
export async function packPython(outDir) {
  const python = packingPython();
  mkdirSync(outDir, { recursive: true });
  const staging = mkdtempSync(join(outDir, ".python-"));
  try {
    progress("building the wheel and sdist of sdks/python (python -m build)");
    run(python, ["-m", "build", "--outdir", staging, sdk]);
    const built = readdirSync(staging).map((name) => join(staging, name));
    progress(`checking their metadata and README (twine check --strict ${built.length} files)`);
    run(python, ["-m", "twine", "check", "--strict", ...built]);
    return built.map((file) => moveInto(outDir, file));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The python of .toolchain/python-pack, made (once per tool list) with python3 from PATH. */
export function packingPython() {
  const python = join(venv, "bin/python");
  const stamp = join(venv, "stamp");
  const wanted = tools.join(" ");
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, "utf8") === wanted) return python;
  progress(`installing ${wanted} into .toolchain/python-pack (from PyPI)`);
  rmSync(venv, { recursive: true, force: true });
  run(
    "python3",
    ["-m", "venv", venv],
    "install python3 (3.11 or later, with its venv module) to pack the Python SDK",
  );
  run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...tools]);
  writeFileSync(stamp, wanted);
  return python;
}

/** Moves a built file into outDir (replacing an older one of the same name); returns `{ file, bytes }`. */
function moveInto(outDir, built) {
  const file = join(outDir, basename(built));
  rmSync(file, { force: true });
  renameSync(built, file);
  return { file, bytes: statSync(file).size };
}

/** Runs a command, its output kept unless it fails; a failure throws with the command's output and `hint`. */
function run(command, args, hint) {
  try {
    execFileSync(command, args, { cwd: root, stdio: "pipe", encoding: "utf8" });
  } catch (error) {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
    const reason = error.code === "ENOENT" ? `${command} was not found` : `it exited with ${error.status}`;
    throw new Error(
      `pack python: ${command} ${args.join(" ")} failed: ${reason}${hint ? `; ${hint}` : ""}\n${output}`,
    );
  }
}

function progress(step) {
  console.log(`pack python: ${step}`);
}
