/**
 * Partition choice: hash(partitionkey) mod partitions, with 32-bit FNV-1a over the key's UTF-8 bytes, so the same
 * key always lands on the same partition of a topic, in every broker process.
 */
export function partitionForKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  const bytes = new TextEncoder().encode(key);
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
