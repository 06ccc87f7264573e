// IPv4/IPv6 addresses and CIDR blocks for ipBlocks, remoteIpBlocks, source.ip, destination.ip.
// Addresses are parsed by hand into numbers so the hot path does not allocate for IPv4.

export interface Cidr {
  readonly v6: boolean;
  /** IPv4: one 32-bit word; IPv6: four 32-bit words, most significant first. */
  readonly words: readonly number[];
  readonly bits: number;
  /** Canonical text form of the network address, as written in the policy. */
  readonly address: string;
}

/** Parses dotted IPv4; returns -1 when `s` is not one. */
export function parseIPv4(s: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zeros are ambiguous (octal in some parsers)
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** Parses IPv6 (with `::` and an optional trailing dotted IPv4) into four words, or undefined. */
export function parseIPv6(s: string): number[] | undefined {
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length < 2 || !s.includes(":")) return undefined;
  const groups: number[] = [];
  const dbl = s.indexOf("::");
  if (dbl !== s.lastIndexOf("::")) return undefined;
  const parseSide = (side: string, allowV4: boolean): number[] | undefined => {
    if (side === "") return [];
    const out: number[] = [];
    const parts = side.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (allowV4 && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (v4 < 0) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  if (dbl >= 0) {
    const head = parseSide(s.slice(0, dbl), false);
    const tail = parseSide(s.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(s, true);
    if (!all || all.length !== 8) return undefined;
    groups.push(...all);
  }
  return [0, 2, 4, 6].map((i) => groups[i]! * 65536 + groups[i + 1]!);
}

export function isIP(s: string): boolean {
  return parseIPv4(s) >= 0 || parseIPv6(s) !== undefined;
}

/** A single IP (= /32 or /128) or a CIDR; undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const bitsText = slash >= 0 ? text.slice(slash + 1) : undefined;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return undefined;
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    if (bits > 32) return undefined;
    return { v6: false, words: [maskWord(v4, bits)], bits, address: addr };
  }
  const v6 = parseIPv6(addr);
  if (!v6) return undefined;
  const bits = bitsText === undefined ? 128 : Number(bitsText);
  if (bits > 128) return undefined;
  return { v6: true, words: v6.map((w, i) => maskWord(w, bits - i * 32)), bits, address: addr };
}

function maskWord(word: number, bits: number): number {
  if (bits >= 32) return word;
  if (bits <= 0) return 0;
  const size = 2 ** (32 - bits);
  return word - (word % size);
}

/** Does `ip` (text) fall inside `cidr`? IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as Node reports) counts as IPv4. */
export function cidrContains(cidr: Cidr, ip: string | undefined): boolean {
  if (ip === undefined || ip.length === 0) return false;
  if (!cidr.v6) {
    let v4 = parseIPv4(ip);
    if (v4 < 0 && ip.startsWith("::ffff:")) v4 = parseIPv4(ip.slice(7));
    return v4 >= 0 && maskWord(v4, cidr.bits) === cidr.words[0];
  }
  const v6 = parseIPv6(ip);
  if (!v6) return false;
  for (let i = 0; i < 4; i++) {
    if (maskWord(v6[i]!, cidr.bits - i * 32) !== cidr.words[i]) return false;
  }
  return true;
}
