import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const protobufJava = "4.35.1"; // the runtime that matches tools/codegen/plugins.sh's protoc (libprotoc 35.1)
const work = mkdtempSync(join(tmpdir(), "cebus-codegen-java-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** protobuf-java from Maven Central, cached in .toolchain/jars. */
function jar() {
  const dir = join(root, ".toolchain/jars");
  const file = join(dir, `protobuf-java-${protobufJava}.jar`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const url = `https://repo1.maven.org/maven2/com/google/protobuf/protobuf-java/${protobufJava}/protobuf-java-${protobufJava}.jar`;
    execFileSync("curl", ["-fsSL", "-o", file, url]);
  }
  return file;
}

describe("pnpm codegen", () => {
  it("generates a Java client from proto/ that compiles with javac against protobuf-java", () => {
    const out = join(work, "java");
    execFileSync(
      process.execPath,
      [join(root, "tools/codegen/codegen.mjs"), "--lang", "java", "--out", out],
      {
        cwd: root,
        stdio: "inherit",
      },
    );
    const sources = readdirSync(out, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".java"))
      .map((f) => join(out, f));
    expect(sources.length).toBeGreaterThan(5);
    const classes = join(work, "classes");
    execFileSync("javac", ["-nowarn", "-cp", jar(), "-d", classes, ...sources], { stdio: "inherit" });
    expect(existsSync(join(classes, "io/cloudevents/v1/proto/CloudEvent.class"))).toBe(true);
    expect(readdirSync(join(classes, "cebus/v1")).some((f) => f.includes("$PublishRequest"))).toBe(true);
  }, 180_000);

  it("refuses a call without --lang or --out and says how to call it", () => {
    let message = "";
    try {
      execFileSync(process.execPath, [join(root, "tools/codegen/codegen.mjs"), "--lang", "java"], {
        stdio: "pipe",
      });
    } catch (error) {
      message = String(error.stderr);
    }
    expect(message).toMatch(/usage: pnpm codegen -- --lang/);
  });
});
