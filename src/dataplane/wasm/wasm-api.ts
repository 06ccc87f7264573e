// Typed access to the global WebAssembly object. The project's lib (ES2023, no DOM) and @types/node 20 do not
// declare it, and a global declaration here could clash with other modules, so we type just what we use.

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** Opaque compiled module. */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: WasmImports): Promise<WasmInstance>;
  Instance: new (module: WasmModule, imports: WasmImports) => WasmInstance;
  Module: { exports(module: WasmModule): Array<{ name: string; kind: string }> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Table: new (descriptor: { element: "anyfunc" | "externref"; initial: number }) => object;
  Global: new (descriptor: { value: string; mutable: boolean }, value: number | bigint) => object;
}

export const Wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
