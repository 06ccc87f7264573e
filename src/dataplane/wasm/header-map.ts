// Header maps as the filter chain holds them (ordered pairs, repeated names allowed), and the ABI's wire form.
// Names and values cross the boundary as latin1 so every byte round-trips, the way Node's http module keeps them.

import { AmbitError } from "../../errors.js";

/** Mutable, ordered header pairs; names are compared case-insensitively and stored lower-case when a plugin adds them. */
export type HeaderMap = Array<[string, string]>;

export function headerValue(map: HeaderMap, name: string): string | undefined {
  const key = name.toLowerCase();
  for (const [k, v] of map) if (k.toLowerCase() === key) return v;
  return undefined;
}

export function addHeader(map: HeaderMap, name: string, value: string): void {
  map.push([name.toLowerCase(), value]);
}

/** Replaces the first occurrence and drops the rest, or adds the header when it is missing (ABI "replace"). */
export function replaceHeader(map: HeaderMap, name: string, value: string): void {
  const key = name.toLowerCase();
  let replaced = false;
  for (let i = 0; i < map.length; ) {
    const pair = map[i]!;
    if (pair[0].toLowerCase() !== key) {
      i++;
    } else if (!replaced) {
      pair[1] = value;
      replaced = true;
      i++;
    } else {
      map.splice(i, 1);
    }
  }
  if (!replaced) map.push([key, value]);
}

export function removeHeader(map: HeaderMap, name: string): void {
  const key = name.toLowerCase();
  for (let i = map.length - 1; i >= 0; i--) if (map[i]![0].toLowerCase() === key) map.splice(i, 1);
}

/** Replaces the whole content in place so the caller's reference sees the change. */
export function setHeaders(map: HeaderMap, pairs: HeaderMap): void {
  map.length = 0;
  for (const p of pairs) map.push(p);
}

/** Size in bytes of the serialised form: count, two lengths per pair, then key NUL value NUL. */
export function serializedSize(map: HeaderMap): number {
  let size = 4;
  for (const [k, v] of map) size += 8 + Buffer.byteLength(k, "latin1") + Buffer.byteLength(v, "latin1") + 2;
  return size;
}

export function serializeHeaders(map: HeaderMap): Buffer {
  const out = Buffer.allocUnsafe(serializedSize(map));
  out.writeUInt32LE(map.length, 0);
  let lengths = 4;
  let data = 4 + map.length * 8;
  for (const [k, v] of map) {
    const kl = out.write(k, data, "latin1");
    out[data + kl] = 0;
    data += kl + 1;
    const vl = out.write(v, data, "latin1");
    out[data + vl] = 0;
    data += vl + 1;
    out.writeUInt32LE(kl, lengths);
    out.writeUInt32LE(vl, lengths + 4);
    lengths += 8;
  }
  return out;
}

/** Parses the ABI form; an empty input or a single 0x00 byte is an empty map. */
export function deserializeHeaders(bytes: Uint8Array): HeaderMap {
  if (bytes.length <= 1) return [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = () => new AmbitError("AMBIT_WASM_HEADER_MAP", "malformed serialised header map");
  if (buf.length < 4) throw fail();
  const count = buf.readUInt32LE(0);
  let lengths = 4;
  let data = 4 + count * 8;
  if (data > buf.length) throw fail();
  const out: HeaderMap = [];
  for (let i = 0; i < count; i++) {
    const kl = buf.readUInt32LE(lengths);
    const vl = buf.readUInt32LE(lengths + 4);
    lengths += 8;
    if (data + kl + vl + 2 > buf.length) throw fail();
    const k = buf.toString("latin1", data, data + kl);
    data += kl + 1;
    const v = buf.toString("latin1", data, data + vl);
    data += vl + 1;
    out.push([k, v]);
  }
  return out;
}
