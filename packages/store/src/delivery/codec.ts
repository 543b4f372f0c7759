import type { DeliveryLease, PartitionDeliveryState } from "./state.js";

/**
 * A compact encoding of a PartitionDeliveryState, for backends that persist it as one value (a row, a KV entry, a
 * hash field). Leases at contiguous offsets with the same attempt, token, deadline and held flag (what one claim
 * creates) are stored as one range, and tokens and keys once each in a table, so a partition with thousands of
 * events in flight from a few claims encodes in a few hundred bytes.
 *
 * The value is UTF-8 JSON: `{"v":1,"c":cursor,"t":[tokens],"k":[keys],"r":[range...]}` where a range is
 * `[firstOffset, count, attempt, tokenIndex, deadline, held (1/0), keyIndexes?]`, keyIndexes listing per offset an
 * index into `k` or -1 (left out when no event of the range has a key).
 */
export const stateCodecVersion = 1;

type Range = [number, number, number, number, number, number, number[]?];

interface Encoded {
  v: number;
  c: number;
  t: string[];
  k: string[];
  r: Range[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeState(state: PartitionDeliveryState): Uint8Array {
  const tokens = new Table();
  const keys = new Table();
  const ranges: Range[] = [];
  let current: Range | undefined;
  let last: DeliveryLease | undefined;
  for (const lease of state.leases) {
    if (!current || !last || !continues(last, lease)) {
      current = [
        lease.offset,
        0,
        lease.attempt,
        tokens.index(lease.token),
        lease.deadline,
        lease.held ? 1 : 0,
      ];
      ranges.push(current);
    }
    addToRange(current, lease, keys);
    last = lease;
  }
  const encoded: Encoded = {
    v: stateCodecVersion,
    c: state.cursor,
    t: tokens.values,
    k: keys.values,
    r: ranges,
  };
  return encoder.encode(JSON.stringify(encoded));
}

export function decodeState(bytes: Uint8Array): PartitionDeliveryState {
  const encoded = JSON.parse(decoder.decode(bytes)) as Encoded;
  if (encoded.v !== stateCodecVersion) {
    throw new Error(`delivery state version ${encoded.v} is not supported (expected ${stateCodecVersion})`);
  }
  const leases: DeliveryLease[] = [];
  for (const range of encoded.r) leases.push(...expandRange(range, encoded));
  return { cursor: encoded.c, leases };
}

/** Whether `lease` extends the range that `last` ended. */
function continues(last: DeliveryLease, lease: DeliveryLease): boolean {
  return (
    lease.offset === last.offset + 1 &&
    lease.attempt === last.attempt &&
    lease.token === last.token &&
    lease.deadline === last.deadline &&
    lease.held === last.held
  );
}

function addToRange(range: Range, lease: DeliveryLease, keys: Table): void {
  const keyIndex = lease.key === undefined ? -1 : keys.index(lease.key);
  if (keyIndex >= 0 && range[6] === undefined) range[6] = Array(range[1]).fill(-1);
  range[6]?.push(keyIndex);
  range[1]++;
}

function expandRange(range: Range, encoded: Encoded): DeliveryLease[] {
  const [first, count, attempt, tokenIndex, deadline, held, keyIndexes] = range;
  const token = encoded.t[tokenIndex] ?? "";
  return Array.from({ length: count }, (_, i) => {
    const keyIndex = keyIndexes?.[i] ?? -1;
    return {
      offset: first + i,
      attempt,
      token,
      deadline,
      held: held === 1,
      key: keyIndex < 0 ? undefined : encoded.k[keyIndex],
    };
  });
}

/** Strings stored once, referred to by index. */
class Table {
  readonly values: string[] = [];
  private readonly indexes = new Map<string, number>();

  index(value: string): number {
    let index = this.indexes.get(value);
    if (index === undefined) {
      index = this.values.length;
      this.values.push(value);
      this.indexes.set(value, index);
    }
    return index;
  }
}
