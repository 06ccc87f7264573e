// Access to a plugin's linear memory. Views are rebuilt when the memory grows (growth detaches the old buffer),
// and every access is bounds-checked so a bad pointer becomes INVALID_MEMORY_ACCESS instead of a host exception.

import type { WasmMemory } from "./wasm-api.js";

/** Thrown by GuestMemory on an out-of-bounds access; import wrappers turn it into a status code. */
export class MemoryFault extends Error {}

export class GuestMemory {
  private buffer: ArrayBuffer | undefined;
  private u8 = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(
    private readonly memory: WasmMemory,
    private readonly allocate: ((size: number) => number) | undefined,
  ) {}

  private refresh(): void {
    const current = this.memory.buffer;
    if (current !== this.buffer) {
      this.buffer = current;
      this.u8 = new Uint8Array(current);
      this.view = new DataView(current);
    }
  }

  private check(ptr: number, len: number): void {
    this.refresh();
    if (ptr < 0 || len < 0 || ptr + len > this.u8.length) throw new MemoryFault(`access ${ptr}+${len} out of bounds`);
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** A view into guest memory; valid until the next call into the guest. Copy it to keep it. */
  view8(ptr: number, len: number): Uint8Array {
    this.check(ptr >>> 0, len >>> 0);
    return this.u8.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  }

  copy(ptr: number, len: number): Uint8Array {
    return Uint8Array.from(this.view8(ptr, len));
  }

  utf8(ptr: number, len: number): string {
    const v = this.view8(ptr, len);
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8");
  }

  latin1(ptr: number, len: number): string {
    const v = this.view8(ptr, len);
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("latin1");
  }

  setU32(ptr: number, value: number): void {
    this.check(ptr >>> 0, 4);
    this.view.setUint32(ptr >>> 0, value >>> 0, true);
  }

  setU64(ptr: number, value: bigint): void {
    this.check(ptr >>> 0, 8);
    this.view.setBigUint64(ptr >>> 0, BigInt.asUintN(64, value), true);
  }

  getU32(ptr: number): number {
    this.check(ptr >>> 0, 4);
    return this.view.getUint32(ptr >>> 0, true);
  }

  write(ptr: number, bytes: Uint8Array): void {
    this.check(ptr >>> 0, bytes.length);
    this.u8.set(bytes, ptr >>> 0);
  }

  /**
   * Hands bytes to the guest the ABI way: the guest allocates (proxy_on_memory_allocate or malloc) and owns the
   * copy; its address and size go to *ptrPtr and *sizePtr. An empty value is returned as (0, 0) without allocating.
   * Returns false when the guest has no allocator or the allocation failed.
   */
  give(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (bytes.length > 0) {
      if (this.allocate === undefined) return false;
      ptr = this.allocate(bytes.length) >>> 0;
      if (ptr === 0) return false;
      this.write(ptr, bytes);
    }
    this.setU32(ptrPtr, ptr);
    this.setU32(sizePtr, bytes.length);
    return true;
  }
}
