#!/usr/bin/env node
// `pnpm codegen -- --lang <name> --out DIR`: generates messages for any language from proto/, for clients beyond the
// shipped SDKs. protoc's built-in languages (cpp, csharp, java, kotlin, objc, php, pyi, python, ruby) use protoc from
// Maven Central (downloaded once); grpc-java (the gRPC service stubs for Java) uses protoc-gen-grpc-java from Maven
// Central too; any other name runs the plugin protoc-gen-<name> from PATH (for example go, es, connect-kotlin once
// installed). Add --opt KEY=VALUE for plugin options.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseScriptArgs } from "./args.mjs";
import { pluginPath } from "./generate.mjs";

const root = new URL("../..", import.meta.url).pathname;
const builtins = ["cpp", "csharp", "java", "kotlin", "objc", "php", "pyi", "python", "ruby"];

const usage = `usage: pnpm codegen -- --lang <name> --out DIR [--opt KEY=VALUE ...]
  --lang   ${builtins.join(", ")} (protoc's own), grpc-java, or any plugin protoc-gen-<name> on PATH
  --out    the directory to write into
  --opt    a plugin option, repeatable`;
const values = parseScriptArgs(usage, {
  lang: { type: "string" },
  out: { type: "string" },
  opt: { type: "string", multiple: true },
});
if (!values.lang || !values.out) {
  console.error(`error: give both --lang and --out\n${usage}`);
  process.exit(2);
}
const out = resolve(values.out);

/** An executable published on Maven Central (group path, artifact, version), cached in .toolchain/codegen. */
function mavenExecutable(group, artifact, version) {
  const arch = { x64: "x86_64", arm64: "aarch_64" }[process.arch] ?? process.arch;
  const os = { linux: "linux", darwin: "osx" }[process.platform] ?? process.platform;
  const file = join(root, `.toolchain/codegen/${artifact}-${version}`);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const url = `https://repo1.maven.org/maven2/${group}/${artifact}/${version}/${artifact}-${version}-${os}-${arch}.exe`;
    console.error(`codegen: downloading ${artifact} ${version} from Maven Central`);
    execFileSync("curl", ["-fsSL", "-o", `${file}.part`, url], { stdio: "inherit" });
    chmodSync(`${file}.part`, 0o755);
    renameSync(`${file}.part`, file);
  }
  return file;
}
/** The full protoc (every built-in language): libprotoc 35.1, as the Python generator in plugins.sh. */
const fullProtoc = () => mavenExecutable("com/google/protobuf", "protoc", "4.35.1");
/** Plugins fetched from Maven Central rather than looked up on PATH (1.84+ publish no linux executable there). */
const mavenPlugins = { "grpc-java": () => mavenExecutable("io/grpc", "protoc-gen-grpc-java", "1.83.1") };

const plugin = builtins.includes(values.lang)
  ? `  - protoc_builtin: ${values.lang}\n    protoc_path: ${JSON.stringify(fullProtoc())}\n`
  : mavenPlugins[values.lang]
    ? `  - local: ${JSON.stringify(mavenPlugins[values.lang]())}\n`
    : `  - local: protoc-gen-${values.lang}\n`;
const opts = (values.opt ?? []).map((o) => `      - ${JSON.stringify(o)}\n`).join("");
const dir = mkdtempSync(join(tmpdir(), "cebus-codegen-"));
try {
  const template = join(dir, "buf.gen.yaml");
  writeFileSync(
    template,
    `version: v2\nplugins:\n${plugin}    out: ${JSON.stringify(out)}\n${opts ? `    opt:\n${opts}` : ""}`,
  );
  execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "proto", "--template", template], {
    cwd: root,
    env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${pluginPath()}` },
    stdio: "inherit",
  });
  console.log(`generated ${values.lang} from proto/ into ${out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
