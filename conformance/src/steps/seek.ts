import { toCebusError } from "@cebus/client";
import type { Position } from "@cebus/proto";
import type { StepOf } from "../case.js";
import type { CaseRun } from "../case-context.js";

type Seek = StepOf<"seek">;

const timestamp = (ms: number) => ({
  seconds: BigInt(Math.floor(ms / 1000)),
  nanos: (ms % 1000) * 1_000_000,
});

/**
 * The publish time the broker stored for an event of this case, read back with ReadTopic at the offset its
 * publish returned (the delivery protocol of the client under test does not carry it).
 */
async function publishTimeOf(id: string, run: CaseRun): Promise<{ ms: number; nanos: number }> {
  const published = run.published.get(id);
  if (!published) throw new Error(`seek to the publish time of '${id}': no acknowledged publish of that id`);
  const { records } = await run.raw().subscriber.readTopic({
    topic: run.topic,
    partition: published.partition,
    fromOffset: BigInt(published.offset),
    limit: 1,
  });
  const record = records[0];
  if (!record?.publishTime || record.event?.id !== id)
    throw new Error(`seek to the publish time of '${id}': ReadTopic at its offset returned no such record`);
  const { seconds, nanos } = record.publishTime;
  return { ms: Number(seconds) * 1000 + Math.floor(nanos / 1_000_000), nanos };
}

async function positionOf(s: Seek, run: CaseRun): Promise<{ position: Position["position"]; label: string }> {
  if (s.publishTimeOf !== undefined) {
    const { ms, nanos } = await publishTimeOf(s.publishTimeOf, run);
    const seconds = BigInt(Math.floor(ms / 1000));
    return {
      position: { case: "time", value: { $typeName: "google.protobuf.Timestamp", seconds, nanos } },
      label: `the publish time of ${s.publishTimeOf} (${new Date(ms).toISOString()})`,
    };
  }
  if (s.mark !== undefined) {
    const at = run.marks.get(s.mark);
    if (at === undefined) throw new Error(`seek to unknown mark '${s.mark}'`);
    return {
      position: { case: "time", value: { $typeName: "google.protobuf.Timestamp", ...timestamp(at) } },
      label: `mark ${s.mark}`,
    };
  }
  if (typeof s.to === "number")
    return {
      position: {
        case: "offsets",
        value: {
          $typeName: "cebus.v1.PartitionOffsets",
          offsets: [{ $typeName: "cebus.v1.PartitionOffset", partition: 0, offset: BigInt(s.to) }],
        },
      },
      label: `offset ${s.to}`,
    };
  return {
    position: { case: s.to ?? "earliest", value: { $typeName: "google.protobuf.Empty" } },
    label: s.to ?? "earliest",
  };
}

/**
 * `seek`: moves a subscription's cursor (through the first broker). The fault is recorded before the call: deliveries it causes may arrive before the call
 * returns, and the checkers excuse a replay only after the seek started. With `expectError`, the seek must fail
 * with that code (and then moved nothing).
 */
export async function seekStep(run: CaseRun, s: Seek): Promise<void> {
  const spec = run.subscriptions.get(s.subscription);
  if (!spec) throw new Error(`seek of unknown subscription '${s.subscription}'`);
  const { position, label } = await positionOf(s, run);
  const at = run.history.now();
  if (!s.expectError)
    run.history.add({
      op: "fault",
      at,
      fault: `seek ${s.subscription} to ${label}`,
      kind: "seek",
      subscription: spec.fullName,
    });
  let error: string | undefined;
  try {
    await run.admin().seek({ subscription: spec.fullName, position: { position } });
  } catch (e) {
    error = toCebusError(e, run.env.target.url).code;
  }
  if (s.expectError === undefined && error !== undefined)
    throw new Error(`seek ${s.subscription} to ${label} failed: ${error}`);
  if (s.expectError !== undefined && error !== s.expectError)
    throw new Error(
      `seek ${s.subscription} to ${label} ${error ? `failed with ${error}` : "succeeded"}; expected ${s.expectError}`,
    );
  if (s.expectError !== undefined)
    run.history.add({ op: "fault", at, fault: `seek ${s.subscription} to ${label} refused with ${error}` });
}
