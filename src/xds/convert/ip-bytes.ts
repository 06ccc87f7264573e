// Textual IPs ↔ the raw bytes Istio's workload API carries (4 bytes for IPv4, 16 for IPv6).
import { AmbitError } from "../../errors.js";
import { parseIPv4, parseIPv6 } from "../../policy/ip.js";

export function ipToBytes(ip: string): Uint8Array {
  const v4 = parseIPv4(ip);
  if (v4 >= 0) return new Uint8Array([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
  const v6 = parseIPv6(ip);
  if (v6 === undefined) throw new AmbitError("AMBIT_XDS_INVALID_IP", `not an IP address: ${ip}`);
  const out = new Uint8Array(16);
  v6.forEach((word, i) => {
    out[i * 4] = word >>> 24;
    out[i * 4 + 1] = (word >>> 16) & 255;
    out[i * 4 + 2] = (word >>> 8) & 255;
    out[i * 4 + 3] = word & 255;
  });
  return out;
}

/** Canonical text (RFC 5952 for IPv6; IPv4-mapped addresses as `::ffff:a.b.c.d`, as Node's sockets report them). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) {
    throw new AmbitError("AMBIT_XDS_INVALID_IP", `an IP address has 4 or 16 bytes, got ${bytes.length}`);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i]! * 256 + bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12).join(".")}`;
  }
  // The longest run of two or more zero groups (the first one on ties) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
