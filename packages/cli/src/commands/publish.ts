import { readFileSync } from "node:fs";
import { CebusError, toCloudEvent } from "@cebus/core";
import type { CloudEvent } from "@cebus/proto";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { createProgress, printJson } from "../output.js";

interface PublishFlags {
  type: string;
  source: string;
  data?: string;
  file?: string;
  key?: string;
  subject?: string;
  id?: string;
  count?: number;
  batch?: number;
  json?: boolean;
}

function parseData(flags: PublishFlags): unknown {
  if (flags.data !== undefined && flags.file !== undefined) {
    throw new CebusError("invalid_argument", "give --data or --file, not both");
  }
  const text = flags.file !== undefined ? readFileSync(flags.file, "utf8") : flags.data;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: published as text/plain
  }
}

export function registerPublish(program: Command): void {
  program
    .command("publish <topic>")
    .description("publish CloudEvents to a topic")
    .requiredOption("--type <type>", "the event type, e.g. com.example.order.created")
    .requiredOption("--source <source>", "the event source, e.g. /orders-service")
    .option("--data <json>", "event data: JSON, or plain text")
    .option("--file <path>", "read the event data from a file")
    .option("--key <key>", "partition key: events of one key keep their order")
    .option("--subject <subject>", "the event subject")
    .option("--id <id>", "the event id [a random UUID]")
    .option(
      "--count <n>",
      'publish n events (ids unique; data {"n": i} when no data is given)',
      wholeNumber(1, Number.MAX_SAFE_INTEGER),
    )
    .option("--batch <n>", "events per publish call with --count [100]", wholeNumber(1))
    .option("--json", "print results as JSON lines")
    .action(
      action(async (topic: string, flags: PublishFlags, cmd: Command) => {
        const c = connectTo(cmd.optsWithGlobals().url);
        const data = parseData(flags);
        const base = {
          type: flags.type,
          source: flags.source,
          subject: flags.subject,
          partitionkey: flags.key,
        };
        if (flags.count === undefined) {
          const event = toCloudEvent({ ...base, id: flags.id, data });
          const { results } = await c.publisher.publish({ topic, events: [event] });
          const r = results[0];
          if (!r) return;
          if (flags.json)
            printJson({ id: event.id, partition: r.partition, offset: r.offset, duplicate: r.duplicate });
          else console.log(`${r.partition} ${r.offset} ${event.id}${r.duplicate ? " duplicate" : ""}`);
          return;
        }
        const count = flags.count;
        const batchSize = flags.batch ?? 100;
        const progress = createProgress(count, `publish ${topic}`);
        const prefix = flags.id ?? crypto.randomUUID();
        let done = 0;
        while (done < count) {
          const events: CloudEvent[] = [];
          for (let i = done; i < Math.min(count, done + batchSize); i++) {
            events.push(toCloudEvent({ ...base, id: `${prefix}-${i}`, data: data ?? { n: i } }));
          }
          const { results } = await c.publisher.publish({ topic, events });
          if (flags.json) {
            results.forEach((r, i) => {
              printJson({
                id: events[i]?.id,
                partition: r.partition,
                offset: r.offset,
                duplicate: r.duplicate,
              });
            });
          }
          done += events.length;
          progress.update(done);
        }
        progress.finish(done);
      }),
    );
}
