import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrokerProcess, runCli, startBroker } from "./index.js";

// The CLI's manners: bad input is one line naming the value (exit 2) and changes nothing, hints speak in flags and
// commands, every --help works, and `consume --max` leaves nothing leased behind.

let broker: BrokerProcess;
const cli = (...args: string[]) => runCli(args, { url: broker.url });
const topicNames = async () => (await cli("topics", "list", "--json")).stdout;

beforeAll(async () => {
  broker = await startBroker({ store: "memory" });
});
afterAll(async () => {
  await broker?.[Symbol.asyncDispose]();
});

describe("bad numeric flags are one line naming the flag and value, exit 2, and change nothing", () => {
  const cases: [string, string[]][] = [
    ["--partitions", ["topics", "create", "n1", "--partitions", "abc"]],
    ["--partitions", ["topics", "create", "n2", "--partitions", "0"]],
    ["--max-event-bytes", ["topics", "create", "n3", "--max-event-bytes", "1.5"]],
    ["--max-attempts", ["subscriptions", "create", "n4", "--topic", "t", "--max-attempts", "-1"]],
    ["--count", ["publish", "t", "--type", "x", "--source", "/s", "--count", "ten"]],
    ["--batch", ["publish", "t", "--type", "x", "--source", "/s", "--count", "5", "--batch", "NaN"]],
    ["--max", ["consume", "--subscription", "s", "--max", "abc"]],
    ["--partition", ["read", "t", "--partition", "x"]],
    ["--limit", ["dlq", "list", "s", "--limit", "99999999999"]],
  ];
  it.each(cases)("%s in `%s`", async (flag, args) => {
    const before = await topicNames();
    const result = await cli(...args);
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`'${flag} <`);
    expect(lines[0]).toContain(`'${args[args.indexOf(flag) + 1]}'`);
    expect(lines[0]).toMatch(/give a whole number from \d+ to \d+/);
    expect(await topicNames()).toBe(before);
  });

  it("an unknown command or option is one line and exit 2", async () => {
    for (const args of [["bogus"], ["topics", "create", "x", "--colour", "blue"]]) {
      const result = await cli(...args);
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/^error: unknown .*\(see --help\)\n$/);
    }
  });
});

describe("hints from the broker speak the CLI's language", () => {
  it("names the setting that differs and the flag that helps, never a Protobuf field", async () => {
    expect((await cli("topics", "create", "h1", "--partitions", "2")).code).toBe(0);
    const again = await cli("topics", "create", "h1");
    expect(again.stderr).toBe(
      "error: topic 'h1' already exists with other settings (partitions is 2, requested 1); pick another name, or delete it first\n",
    );
    expect((await cli("topics", "create", "h1", "--partitions", "2")).stderr).toBe(
      "error: topic 'h1' already exists; pick another name, or add --if-not-exists to reuse it\n",
    );
    expect((await cli("topics", "create", "h1", "--partitions", "2", "--if-not-exists")).code).toBe(0);
    const missingDlq = await cli(
      "subscriptions",
      "create",
      "h1-sub",
      "--topic",
      "h1",
      "--dead-letter",
      "h1-dlq",
    );
    expect(missingDlq.stderr).toBe(
      "error: --dead-letter 'h1-dlq' does not exist; create it first with `cebus topics create h1-dlq`\n",
    );
    expect((await cli("subscriptions", "create", "h1-sub", "--topic", "h1")).code).toBe(0);
    expect((await cli("topics", "delete", "h1")).stderr).toBe(
      "error: topic 'h1' has subscriptions (h1-sub); delete them first, or add --force to delete them too\n",
    );
    expect((await cli("dlq", "list", "h1-sub")).stderr).toContain(
      "a subscription cannot be changed: to keep them, create a new subscription with --dead-letter TOPIC",
    );
    for (const result of [again, missingDlq])
      expect(result.stderr).not.toMatch(/if_not_exists|dead_letter|force\b/);
  });
});

describe("consume --max", () => {
  it("ends its consumer cleanly: nothing it did not print stays leased", async () => {
    await cli("topics", "create", "m1");
    await cli("subscriptions", "create", "m1-sub", "--topic", "m1", "--start", "earliest");
    expect((await cli("publish", "m1", "--type", "x", "--source", "/s", "--count", "50")).code).toBe(0);
    const consumed = await cli("consume", "--subscription", "m1-sub", "--max", "5");
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.trim().split("\n")).toHaveLength(5);
    // Read at once, long before the 30 s ack deadline: leases left behind would show as in flight.
    const stats = JSON.parse((await cli("subscriptions", "stats", "m1-sub")).stdout);
    expect(stats).toMatchObject({ backlog: 45, inFlight: 0, consumers: 0 });
  });
});

describe("--help", () => {
  /** Every command path, found by walking the "Commands:" sections of the help pages. */
  async function commandPaths(path: string[]): Promise<string[][]> {
    const help = await cli(...path, "--help");
    expect(help.code, path.join(" ")).toBe(0);
    expect(help.stdout).toMatch(/^Usage: cebus/);
    const section = help.stdout.split("Commands:\n")[1] ?? "";
    const names = [...section.matchAll(/^ {2}(\S+)/gm)]
      .map((m) => m[1] as string)
      .filter((n) => n !== "help");
    const nested = await Promise.all(names.map((name) => commandPaths([...path, name])));
    return [path, ...nested.flat()];
  }

  it("works for every command and subcommand", async () => {
    const paths = await commandPaths([]);
    expect(paths.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining(["serve", "topics create", "subscriptions stats", "consume", "dlq list"]),
    );
  });
});
