import { toCloudEventJson } from "@cebus/core";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson } from "../output.js";

export function registerRead(program: Command): void {
  program
    .command("read <topic>")
    .description(
      "print a range of a topic partition as CloudEvents JSON lines, without a subscription (replay)",
    )
    .option("--partition <n>", "the partition [0]", wholeNumber(0))
    .option("--from <offset>", "the first offset [0]", wholeNumber(0, Number.MAX_SAFE_INTEGER))
    .option("--limit <n>", "at most n events [100]", wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .action(
      action(
        async (topic: string, o: { partition?: number; from?: number; limit?: number }, cmd: Command) => {
          const c = connectTo(cmd.optsWithGlobals().url);
          let from = BigInt(o.from ?? 0);
          let left = o.limit ?? 100;
          while (left > 0) {
            const { records, nextOffset } = await c.subscriber.readTopic({
              topic,
              partition: o.partition ?? 0,
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
