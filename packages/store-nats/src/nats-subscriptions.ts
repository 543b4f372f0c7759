import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Subscription, SubscriptionSchema } from "@cebus/proto";
import { type NatsContext, subscriptionMissing } from "./nats-context.js";
import { createStates, forgetStates } from "./nats-delivery.js";

/** Subscriptions: a config value in the meta bucket, and a delivery state value per partition (nats-delivery.ts). */

export async function createSubscription(
  ctx: NatsContext,
  subscription: Subscription,
  cursors: number[],
): Promise<boolean> {
  try {
    await ctx.meta.create(
      ctx.names.subscriptionKey(subscription.name),
      toBinary(SubscriptionSchema, subscription),
    );
  } catch (error) {
    if (error instanceof Error && /wrong last sequence/i.test(error.message)) return false;
    throw error;
  }
  await createStates(ctx, subscription.name, cursors);
  return true;
}

export async function getSubscription(ctx: NatsContext, name: string): Promise<Subscription | undefined> {
  const entry = await ctx.meta.get(ctx.names.subscriptionKey(name));
  return entry && entry.operation === "PUT" ? fromBinary(SubscriptionSchema, entry.value) : undefined;
}

export async function requireSubscription(ctx: NatsContext, name: string): Promise<Subscription> {
  const subscription = await getSubscription(ctx, name);
  if (!subscription) throw subscriptionMissing(name);
  return subscription;
}

export async function listSubscriptions(ctx: NatsContext, topic?: string): Promise<Subscription[]> {
  const keys: string[] = [];
  for await (const key of await ctx.meta.keys("sub.*")) keys.push(key);
  const entries = await Promise.all(keys.map((key) => ctx.meta.get(key)));
  return entries
    .filter((e) => e && e.operation === "PUT")
    .map((e) => fromBinary(SubscriptionSchema, e?.value ?? new Uint8Array()))
    .filter((s) => topic === undefined || s.topic === topic)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function deleteSubscription(ctx: NatsContext, name: string): Promise<boolean> {
  if (!(await getSubscription(ctx, name))) return false;
  await ctx.meta.purge(ctx.names.subscriptionKey(name));
  const keys: string[] = [];
  for await (const key of await ctx.meta.keys(`${ctx.names.statePrefix(name)}.*`)) keys.push(key);
  for await (const key of await ctx.meta.keys(`${ctx.names.deadLetterMarkPrefix(name)}.>`)) keys.push(key);
  await Promise.all(keys.map((key) => ctx.meta.purge(key)));
  forgetStates(ctx, name);
  return true;
}
