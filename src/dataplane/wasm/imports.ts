// The import object a plugin is instantiated with: proxy-wasm host functions under `env`, WASI under both
// module names SDKs use, and a typed stub for anything else so an unused import never blocks instantiation.

import { Status, WasiErrno } from "./abi.js";
import { MemoryFault } from "./memory.js";
import type { ImportInfo, ValType } from "./module-info.js";
import { proxyFunctions } from "./proxy-functions.js";
import type { PluginRuntime } from "./runtime.js";
import { ProcExit } from "./runtime.js";
import { wasiFunctions } from "./wasi.js";
import { Wasm, type WasmImports } from "./wasm-api.js";

type HostFn = (...args: never[]) => unknown;

/** Wraps a host function so a bad guest pointer yields `fault` and a host bug yields `internal`, never a throw. */
function contain(rt: PluginRuntime, name: string, f: HostFn, fault: number, internal: number): HostFn {
  const g = f as (...args: unknown[]) => unknown;
  return ((...args: unknown[]) => {
    try {
      return g(...args);
    } catch (e) {
      if (e instanceof MemoryFault) return fault;
      if (e instanceof ProcExit) throw e;
      rt.log("error", `host function ${name} failed: ${(e as Error).message}`);
      return internal;
    }
  }) as HostFn;
}

function zero(t: ValType | undefined, status: number): unknown {
  if (t === undefined) return undefined;
  if (t === "i64") return BigInt(status);
  if (t === "i32") return status;
  if (t === "f32" || t === "f64") return 0;
  return null;
}

export function buildImports(rt: PluginRuntime, importInfo: ImportInfo[]): WasmImports {
  const env: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(proxyFunctions(rt))) {
    env[name] = contain(rt, name, f, Status.INVALID_MEMORY_ACCESS, Status.INTERNAL_FAILURE);
  }
  const wasi: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(wasiFunctions(rt)))
    wasi[name] = contain(rt, name, f, WasiErrno.FAULT, WasiErrno.NOSYS);
  const imports: Record<string, Record<string, unknown>> = {
    env,
    wasi_snapshot_preview1: wasi,
    wasi_unstable: wasi,
  };
  for (const imp of importInfo) {
    const mod = imports[imp.module] ?? {};
    imports[imp.module] = mod;
    if (mod[imp.name] !== undefined) continue;
    mod[imp.name] = stub(rt, imp);
  }
  return imports;
}

function stub(rt: PluginRuntime, imp: ImportInfo): unknown {
  switch (imp.kind) {
    case "function": {
      const isWasi = imp.module.startsWith("wasi");
      const result = zero(imp.results[0], isWasi ? WasiErrno.NOSYS : Status.UNIMPLEMENTED);
      let warned = false;
      return () => {
        if (!warned) rt.log("warn", `unimplemented import ${imp.module}.${imp.name} called`);
        warned = true;
        return result;
      };
    }
    case "memory":
      return imp.maximum === undefined
        ? new Wasm.Memory({ initial: imp.initial })
        : new Wasm.Memory({ initial: imp.initial, maximum: imp.maximum });
    case "table":
      return new Wasm.Table({
        element: imp.element === "externref" ? "externref" : "anyfunc",
        initial: imp.initial,
      });
    case "global": {
      const value = imp.type === "i64" ? 0n : 0;
      return new Wasm.Global({ value: imp.type, mutable: imp.mutable }, value);
    }
  }
}
