// IPv4 CIDRs and a deterministic address allocator: the lowest free address wins, so the same sequence of
// pods gets the same IPs on every run, and an address is reused once its pod is gone.
import { AmbitError } from "../errors.js";

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  bits: number;
  /** Number of addresses in the block. */
  size: number;
}

export function ipToNumber(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw new AmbitError("AMBIT_RUNTIME_BAD_CIDR", `"${ip}" is not an IPv4 address`);
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) {
      throw new AmbitError("AMBIT_RUNTIME_BAD_CIDR", `"${ip}" is not an IPv4 address`);
    }
    n = n * 256 + Number(part);
  }
  return n;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A block Ambit may allocate from: /8 to /28, no host bits set. */
export function parseCidr(text: string): Cidr {
  const cidr = parseAnyCidr(text);
  if (cidr.bits < 8 || cidr.bits > 28) {
    throw new AmbitError("AMBIT_RUNTIME_BAD_CIDR", `"${text}" must be between /8 and /28`);
  }
  if (numberToIp(cidr.base) !== text.split("/")[0]) {
    throw new AmbitError("AMBIT_RUNTIME_BAD_CIDR", `"${text}" has host bits set; use ${formatCidr(cidr)}`);
  }
  return cidr;
}

/** Any IPv4 prefix, e.g. a route's destination; host bits are masked off and a bare address is a /32. */
export function parseAnyCidr(text: string): Cidr {
  const [ip, bitsText = "32", extra] = text.split("/");
  const bits = Number(bitsText);
  if (ip === undefined || extra !== undefined || !/^\d{1,2}$/.test(bitsText) || bits > 32) {
    throw new AmbitError("AMBIT_RUNTIME_BAD_CIDR", `"${text}" is not an IPv4 CIDR`);
  }
  const size = 2 ** (32 - bits);
  const n = ipToNumber(ip);
  return { base: n - (n % size), bits, size };
}

export function formatCidr(cidr: Cidr): string {
  return `${numberToIp(cidr.base)}/${cidr.bits}`;
}

/** The address at `offset` inside the block (0 = network address). */
export function addressAt(cidr: Cidr, offset: number): string {
  return numberToIp(cidr.base + offset);
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const n = ipToNumber(ip);
  return n >= cidr.base && n < cidr.base + cidr.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** Hands out addresses of a block, skipping the first `reserved` offsets and the broadcast address. */
export class IpAllocator {
  readonly #cidr: Cidr;
  readonly #reserved: number;
  readonly #owners = new Map<number, string>();
  readonly #byOwner = new Map<string, number>();

  constructor(cidr: Cidr, reserved: number) {
    this.#cidr = cidr;
    this.#reserved = reserved;
  }

  /** The owner's address: the one it already holds, else the lowest free one. */
  allocate(owner: string): string {
    const held = this.#byOwner.get(owner);
    if (held !== undefined) return numberToIp(this.#cidr.base + held);
    for (let offset = this.#reserved; offset < this.#cidr.size - 1; offset++) {
      if (!this.#owners.has(offset)) return this.#take(owner, offset);
    }
    throw new AmbitError("AMBIT_RUNTIME_CIDR_EXHAUSTED", `no free address left in ${formatCidr(this.#cidr)}`);
  }

  /** Claims a specific address (a Service's spec.clusterIP); false when it is outside, reserved or taken. */
  claim(owner: string, ip: string): boolean {
    if (!cidrContains(this.#cidr, ip)) return false;
    const offset = ipToNumber(ip) - this.#cidr.base;
    if (offset < this.#reserved || offset === this.#cidr.size - 1) return false;
    const current = this.#owners.get(offset);
    if (current !== undefined) return current === owner;
    this.release(owner);
    this.#take(owner, offset);
    return true;
  }

  release(owner: string): void {
    const offset = this.#byOwner.get(owner);
    if (offset === undefined) return;
    this.#byOwner.delete(owner);
    this.#owners.delete(offset);
  }

  addressOf(owner: string): string | undefined {
    const offset = this.#byOwner.get(owner);
    return offset === undefined ? undefined : numberToIp(this.#cidr.base + offset);
  }

  #take(owner: string, offset: number): string {
    this.#owners.set(offset, owner);
    this.#byOwner.set(owner, offset);
    return numberToIp(this.#cidr.base + offset);
  }
}
