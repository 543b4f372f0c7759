import { toCloudEventJson } from "@cebus/core";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { wholeNumber } from "../flags.js";
import { printJson, printTable } from "../output.js";

export function registerDlq(program: Command): void {
  const dlq = program.command("dlq").description("inspect and redrive a subscription's dead-lettered events");
  dlq
    .command("list <subscription>")
    .description("list dead-lettered events with reason, attempts and payload")
    .option("--limit <n>", "at most n [100]", wholeNumber(1))
    .option("--json", "one JSON object per line, with the full CloudEvent")
    .action(
      action(async (subscription: string, o: { limit?: number; json?: boolean }, cmd: Command) => {
        const { deadLetters } = await connectTo(cmd.optsWithGlobals().url).admin.listDeadLetters({
          subscription,
          limit: o.limit ?? 100,
        });
        if (o.json) {
          for (const d of deadLetters) {
            printJson({
              partition: d.partition,
              offset: d.offset,
              reason: d.reason,
              attempts: d.attempts,
              event: d.event && toCloudEventJson(d.event),
            });
          }
          return;
        }
        printTable(
          deadLetters.map((d) => ({
            id: d.event?.id,
            type: d.event?.type,
            reason: d.reason,
            attempts: d.attempts,
            offset: d.offset,
          })),
          `no dead letters for subscription ${subscription}`,
        );
      }),
    );
  dlq
    .command("redrive <subscription>")
    .description("deliver dead-lettered events again to this subscription only")
    .option("--id <id...>", "only these event ids [all]")
    .action(
      action(async (subscription: string, o: { id?: string[] }, cmd: Command) => {
        const { redriven } = await connectTo(cmd.optsWithGlobals().url).admin.redriveDeadLetters({
          subscription,
          eventIds: o.id ?? [],
        });
        console.log(`${redriven} event(s) redriven to subscription ${subscription}`);
      }),
    );
}
