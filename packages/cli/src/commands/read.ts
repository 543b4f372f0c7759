import { toCloudEventJson } from "@cebus/core";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { printJson } from "../output.js";

export function registerRead(program: Command): void {
  program
    .command("read <topic>")
    .description(
      "print a range of a topic partition as CloudEvents JSON lines, without a subscription (replay)",
    )
    .option("--partition <n>", "the partition [0]")
    .option("--from <offset>", "the first offset [0]")
    .option("--limit <n>", "at most n events [100]")
    .action(
      action(
        async (topic: string, o: { partition?: string; from?: string; limit?: string }, cmd: Command) => {
          const c = connectTo(cmd.optsWithGlobals().url);
          let from = BigInt(o.from ?? 0);
          let left = Number(o.limit ?? 100);
          while (left > 0) {
            const { records, nextOffset } = await c.subscriber.readTopic({
              topic,
              partition: Number(o.partition ?? 0),
              fromOffset: from,
              limit: Math.min(left, 1000),
            });
            for (const r of records)
              if (r.event) printJson({ offset: r.offset, ...toCloudEventJson(r.event) });
            if (records.length === 0) break;
            left -= records.length;
            from = nextOffset;
          }
        },
      ),
    );
}
