import { create } from "@bufbuild/protobuf";
import { CebusError, createAsyncQueue, eventData, toCloudEventJson } from "@cebus/core";
import { type ConsumeRequest, ConsumeRequestSchema, type Delivery, SubscriptionSchema } from "@cebus/proto";
import type { Command } from "commander";
import { action, connectTo } from "../connection.js";
import { printJson } from "../output.js";
import { parsePosition } from "./subscriptions.js";

interface ConsumeFlags {
  subscription?: string;
  max?: string;
  json?: boolean;
  from?: string;
}

function line(d: Delivery): string {
  const e = d.event;
  const data = e ? eventData(e) : undefined;
  const shown =
    data instanceof Uint8Array
      ? `<${data.byteLength} bytes>`
      : typeof data === "string"
        ? data
        : JSON.stringify(data);
  return `${d.partition}:${d.offset} ${e?.type} ${e?.source} ${e?.id}${d.attempt > 1 ? ` (attempt ${d.attempt})` : ""} ${shown ?? ""}`;
}

export function registerConsume(program: Command): void {
  program
    .command("consume [topic]")
    .description(
      "print events and ack them: from a subscription, or from a topic through a temporary subscription",
    )
    .option("--subscription <name>", "consume this subscription")
    .option("--max <n>", "stop after n events")
    .option("--json", "print each event as one CloudEvents JSON object per line")
    .option("--from <position>", "with a topic: earliest, latest or an ISO time [latest]")
    .action(
      action(async (topic: string | undefined, flags: ConsumeFlags, cmd: Command) => {
        if (!topic === !flags.subscription) {
          throw new CebusError("invalid_argument", "give a topic or --subscription NAME (one of them)");
        }
        const c = connectTo(cmd.optsWithGlobals().url);
        const max = flags.max === undefined ? Number.POSITIVE_INFINITY : Number(flags.max);
        let subscription = flags.subscription ?? "";
        let temporary = false;
        if (topic) {
          subscription = `cebus-consume-${crypto.randomUUID().slice(0, 8)}`;
          await c.admin.createSubscription({
            subscription: create(SubscriptionSchema, {
              name: subscription,
              topic,
              startPosition: parsePosition(flags.from ?? "latest", "--from"),
            }),
          });
          temporary = true;
        }
        const requests = createAsyncQueue<ConsumeRequest>();
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        requests.push(
          create(ConsumeRequestSchema, {
            request: {
              case: "start",
              value: {
                subscription,
                consumerName: "cebus consume",
                flow: { maxOutstandingEvents: Number.isFinite(max) ? Math.min(max, 500) : 500 },
              },
            },
          }),
        );
        let printed = 0;
        let confirmed = 0;
        let requestId = 0n;
        const sent = new Map<bigint, number>();
        try {
          for await (const response of c.subscriber.consume(requests, { signal: abort.signal })) {
            const r = response.response;
            if (r.case === "deliveries") {
              const batch = r.value.deliveries.slice(0, Math.max(0, max - printed));
              for (const d of batch) {
                if (flags.json && d.event) printJson(toCloudEventJson(d.event));
                else console.log(line(d));
              }
              printed += batch.length;
              if (batch.length === 0) continue;
              requestId++;
              sent.set(requestId, batch.length);
              requests.push(
                create(ConsumeRequestSchema, {
                  request: {
                    case: "settle",
                    value: {
                      requestId,
                      action: { case: "ack", value: { deliveryIds: batch.map((d) => d.deliveryId) } },
                    },
                  },
                }),
              );
            } else if (r.case === "settled") {
              const failure = r.value.failures[0];
              if (failure)
                process.stderr.write(`warning: ack of ${failure.deliveryId} failed: ${failure.message}\n`);
              confirmed += sent.get(r.value.requestId) ?? 0;
              sent.delete(r.value.requestId);
              if (confirmed >= max) break;
            }
          }
        } catch (error) {
          if (!abort.signal.aborted) throw error;
        } finally {
          requests.end();
          abort.abort();
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          if (temporary) await c.admin.deleteSubscription({ name: subscription }).catch(() => {});
        }
      }),
    );
}
