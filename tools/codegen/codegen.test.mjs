import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const protobufJava = "4.35.1"; // the runtime that matches tools/codegen/plugins.sh's protoc (libprotoc 35.1)
const grpcJava = "1.83.1"; // as protoc-gen-grpc-java in codegen.mjs
const work = mkdtempSync(join(tmpdir(), "cebus-codegen-java-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A jar from Maven Central, cached in .toolchain/jars. */
function jar(group, artifact, version) {
  const dir = join(root, ".toolchain/jars");
  const file = join(dir, `${artifact}-${version}.jar`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const url = `https://repo1.maven.org/maven2/${group}/${artifact}/${version}/${artifact}-${version}.jar`;
    execFileSync("curl", ["-fsSL", "-o", `${file}.part`, url]);
    renameSync(`${file}.part`, file);
  }
  return file;
}

/** What generated Java messages and gRPC stubs compile against: protobuf-java and the gRPC jars. */
const classpath = () =>
  [
    jar("com/google/protobuf", "protobuf-java", protobufJava),
    jar("io/grpc", "grpc-api", grpcJava),
    jar("io/grpc", "grpc-stub", grpcJava),
    jar("io/grpc", "grpc-protobuf", grpcJava),
    jar("com/google/guava", "guava", "33.6.0-android"), // grpc-api's own dependency (ListenableFuture)
  ].join(":");

const generate = (lang, out) =>
  execFileSync(process.execPath, [join(root, "tools/codegen/codegen.mjs"), "--lang", lang, "--out", out], {
    cwd: root,
    stdio: "inherit",
  });

describe("pnpm codegen", () => {
  it("generates a Java client (messages and gRPC stubs) that compiles with javac against protobuf and gRPC", () => {
    const out = join(work, "java");
    generate("java", out);
    generate("grpc-java", out);
    const sources = readdirSync(out, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".java"))
      .map((f) => join(out, f));
    expect(sources.length).toBeGreaterThan(5);
    const classes = join(work, "classes");
    execFileSync("javac", ["-nowarn", "-cp", classpath(), "-d", classes, ...sources], { stdio: "inherit" });
    expect(existsSync(join(classes, "io/cloudevents/v1/proto/CloudEvent.class"))).toBe(true);
    expect(readdirSync(join(classes, "cebus/v1")).some((f) => f.includes("$PublishRequest"))).toBe(true);
    // The client stubs of every service, Receive (server streaming) and Consume (bidirectional) included.
    for (const stub of [
      "PublisherServiceGrpc$PublisherServiceBlockingStub",
      "SubscriberServiceGrpc$SubscriberServiceStub",
    ])
      expect(existsSync(join(classes, `cebus/v1/${stub}.class`))).toBe(true);
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
