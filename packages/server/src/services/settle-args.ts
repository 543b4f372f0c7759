import type { SettleKind, SettleOptions } from "@cebus/broker";
import { CebusError, durationMs } from "@cebus/core";
import type { Settle } from "@cebus/proto";

/** The kind, ids and options of a Consume stream's settle message. */
export function settleArgs(settle: Settle): { kind: SettleKind; ids: string[]; options: SettleOptions } {
  const action = settle.action;
  switch (action.case) {
    case "ack":
      return { kind: "ack", ids: action.value.deliveryIds, options: {} };
    case "nack":
      return {
        kind: "nack",
        ids: action.value.deliveryIds,
        options: { delayMs: action.value.delay ? durationMs(action.value.delay, 0) : undefined },
      };
    case "extend":
      return {
        kind: "extend",
        ids: action.value.deliveryIds,
        options: { extensionMs: action.value.extension ? durationMs(action.value.extension, 0) : undefined },
      };
    case "term":
      return { kind: "term", ids: action.value.deliveryIds, options: { reason: action.value.reason } };
    default:
      throw new CebusError("invalid_argument", "settle.action is missing; set ack, nack, extend or term", {
        field: "settle.action",
      });
  }
}
