// Reads the type and import sections of a Wasm binary. Node 20's WebAssembly.Module.imports() gives no
// signatures, and a stub for an unknown import must return a value of the right type (an i64 needs a BigInt).

import { AmbitError } from "../../errors.js";

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";

export type ImportInfo =
  | { module: string; name: string; kind: "function"; params: ValType[]; results: ValType[] }
  | { module: string; name: string; kind: "memory"; initial: number; maximum?: number; shared: boolean }
  | { module: string; name: string; kind: "table"; element: ValType; initial: number; maximum?: number }
  | { module: string; name: string; kind: "global"; type: ValType; mutable: boolean };

const VAL_TYPES: Record<number, ValType> = {
  127: "i32",
  126: "i64",
  125: "f32",
  124: "f64",
  123: "v128",
  112: "funcref",
  111: "externref",
};

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("unexpected end of module");
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error("LEB128 too long");
    }
  }

  name(): string {
    const len = this.u32();
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, len).toString("utf8");
    this.pos += len;
    return s;
  }

  valType(): ValType {
    const b = this.byte();
    const t = VAL_TYPES[b];
    if (t === undefined) throw new Error(`unknown value type 0x${b.toString(16)}`);
    return t;
  }

  limits(): { initial: number; maximum?: number; shared: boolean } {
    const flags = this.byte();
    const initial = this.u32();
    const maximum = flags & 1 ? this.u32() : undefined;
    return maximum === undefined
      ? { initial, shared: (flags & 2) !== 0 }
      : { initial, maximum, shared: (flags & 2) !== 0 };
  }
}

export function readImports(bytes: Uint8Array): ImportInfo[] {
  try {
    return parse(bytes);
  } catch (e) {
    throw new AmbitError("AMBIT_WASM_LOAD", `cannot read the module's imports: ${(e as Error).message}`, { cause: e });
  }
}

function parse(bytes: Uint8Array): ImportInfo[] {
  const r = new Reader(bytes);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error("not a Wasm binary");
  }
  r.pos = 8;
  const types: Array<{ params: ValType[]; results: ValType[] }> = [];
  const imports: ImportInfo[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (id === 1) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        if (r.byte() !== 0x60) throw new Error("unsupported type form");
        const params = Array.from({ length: r.u32() }, () => r.valType());
        const results = Array.from({ length: r.u32() }, () => r.valType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      const n = r.u32();
      for (let i = 0; i < n; i++) imports.push(readImport(r, types));
      return imports;
    } else if (id > 2 && id !== 0) {
      // Imports always come before any later section, so there are none.
      return imports;
    }
    r.pos = end;
  }
  return imports;
}

function readImport(r: Reader, types: Array<{ params: ValType[]; results: ValType[] }>): ImportInfo {
  const module = r.name();
  const name = r.name();
  const kind = r.byte();
  if (kind === 0) {
    const t = types[r.u32()];
    if (t === undefined) throw new Error(`import ${module}.${name} has an unknown type`);
    return { module, name, kind: "function", params: t.params, results: t.results };
  }
  if (kind === 1) {
    const element = r.valType();
    const { initial, maximum } = r.limits();
    return maximum === undefined
      ? { module, name, kind: "table", element, initial }
      : { module, name, kind: "table", element, initial, maximum };
  }
  if (kind === 2) {
    const { initial, maximum, shared } = r.limits();
    return maximum === undefined
      ? { module, name, kind: "memory", initial, shared }
      : { module, name, kind: "memory", initial, maximum, shared };
  }
  if (kind === 3) {
    const type = r.valType();
    return { module, name, kind: "global", type, mutable: r.byte() === 1 };
  }
  throw new Error(`unknown import kind ${kind}`);
}
