import { create } from "@bufbuild/protobuf";
import { durationMs, msToDuration, parseDuration } from "@cebus/core";
import { type Topic, TopicSchema } from "@cebus/proto";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson, printTable } from "../output.js";

const describeTopic = (t: Topic) => ({
  name: t.name,
  partitions: t.partitions,
  retention: `${durationMs(t.retention, 0) / 1000}s`,
  dedupeWindow: `${durationMs(t.dedupeWindow, 0) / 1000}s`,
  maxEventBytes: Number(t.maxEventBytes),
});

/** The flags of `cebus topics create`. */
interface CreateOptions {
  partitions?: number;
  retention?: string;
  dedupeWindow?: string;
  maxEventBytes?: number;
  ifNotExists?: boolean;
}

/** The topic `cebus topics create` asks for: unset flags leave the broker's defaults. */
function topicFromFlags(name: string, o: CreateOptions): Topic {
  return create(TopicSchema, {
    name,
    partitions: o.partitions ?? 0,
    retention: o.retention ? msToDuration(parseDuration(o.retention, "--retention")) : undefined,
    dedupeWindow: o.dedupeWindow ? msToDuration(parseDuration(o.dedupeWindow, "--dedupe-window")) : undefined,
    maxEventBytes: BigInt(o.maxEventBytes ?? 0),
  });
}

async function createTopic(name: string, o: CreateOptions, cmd: Command): Promise<void> {
  const c = connectTo(cmd.optsWithGlobals().url);
  const topic = topicFromFlags(name, o);
  const created = await c.admin.createTopic({ topic, ifNotExists: o.ifNotExists ?? false });
  console.log(`topic ${created.topic?.name} ready (${created.topic?.partitions} partitions)`);
}

function registerCreate(topics: Command): void {
  topics
    .command("create <name>")
    .description("create a topic")
    .option("--partitions <n>", "number of partitions [1]", wholeNumber(1))
    .option("--retention <duration>", "keep events this long, e.g. 7d [7d]")
    .option("--dedupe-window <duration>", "a (source, id) repeated within this is a duplicate, e.g. 2m [2m]")
    .option(
      "--max-event-bytes <n>",
      "largest accepted event [1048576]",
      wholeNumber(1, Number.MAX_SAFE_INTEGER),
    )
    .option("--if-not-exists", "succeed if the topic exists with the same settings")
    .action(action(createTopic));
}

function registerList(topics: Command): void {
  topics
    .command("list")
    .description("list topics")
    .option("--json", "one JSON object per line")
    .action(
      action(async (o: { json?: boolean }, cmd: Command) => {
        const { topics: list } = await connectTo(cmd.optsWithGlobals().url).admin.listTopics({});
        if (o.json) for (const t of list) printJson(describeTopic(t));
        else printTable(list.map(describeTopic), "no topics yet; create one with `cebus topics create NAME`");
      }),
    );
}

function registerGet(topics: Command): void {
  topics
    .command("get <name>")
    .description("show a topic's settings")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const { topic } = await connectTo(cmd.optsWithGlobals().url).admin.getTopic({ name });
        if (topic) printJson(describeTopic(topic));
      }),
    );
}

function registerStats(topics: Command): void {
  topics
    .command("stats <name>")
    .description("events, bytes and offsets per partition")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const { stats } = await connectTo(cmd.optsWithGlobals().url).admin.getTopicStats({ name });
        printTable(
          (stats?.partitions ?? []).map((p) => ({
            partition: p.partition,
            start: Number(p.startOffset),
            end: Number(p.endOffset),
            events: Number(p.eventCount),
            bytes: Number(p.bytes),
          })),
          "no partitions",
        );
        console.log(`total: ${stats?.eventCount ?? 0n} events, ${stats?.bytes ?? 0n} bytes`);
      }),
    );
}

function registerDelete(topics: Command): void {
  topics
    .command("delete <name>")
    .description("delete a topic and its events")
    .option("--force", "also delete its subscriptions")
    .action(
      action(async (name: string, o: { force?: boolean }, cmd: Command) => {
        await connectTo(cmd.optsWithGlobals().url).admin.deleteTopic({ name, force: o.force ?? false });
        console.log(`topic ${name} deleted`);
      }),
    );
}

/** `cebus topics create|list|get|stats|delete`, in that order in the help. */
export function registerTopics(program: Command): void {
  const topics = program.command("topics").description("create, list, inspect and delete topics");
  registerCreate(topics);
  registerList(topics);
  registerGet(topics);
  registerStats(topics);
  registerDelete(topics);
}
