/**
 * The bytes of one stored event: publish time (float64, ms), key length + 1 (uint32, 0 = no key), the key
 * (UTF-8), then the CloudEvent in Protobuf binary form. The offset is the stream sequence - 1.
 */
const HEAD = 12;

export function encodeEvent(publishTime: number, key: string | undefined, data: Uint8Array): Uint8Array {
  const keyBytes = key === undefined ? undefined : Buffer.from(key, "utf8");
  const out = new Uint8Array(HEAD + (keyBytes?.byteLength ?? 0) + data.byteLength);
  const view = new DataView(out.buffer);
  view.setFloat64(0, publishTime);
  view.setUint32(8, keyBytes === undefined ? 0 : keyBytes.byteLength + 1);
  if (keyBytes) out.set(keyBytes, HEAD);
  out.set(data, HEAD + (keyBytes?.byteLength ?? 0));
  return out;
}

export interface DecodedEvent {
  publishTime: number;
  key: string | undefined;
  data: Uint8Array;
}

export function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const publishTime = view.getFloat64(0);
  const keyLength = view.getUint32(8);
  const key =
    keyLength === 0
      ? undefined
      : Buffer.from(bytes.buffer, bytes.byteOffset + HEAD, keyLength - 1).toString("utf8");
  const dataStart = HEAD + (keyLength === 0 ? 0 : keyLength - 1);
  return { publishTime, key, data: bytes.slice(dataStart) };
}
