// WasmPluginHost: loads proxy-wasm plugins for one proxy and owns what they share (metrics, shared data, queues).

import { AmbitError } from "../../errors.js";
import { ABI_MARKERS, type AbiVersion } from "./abi.js";
import { HttpContextHandle, StreamContextHandle } from "./contexts.js";
import { HostState } from "./host-state.js";
import type { MetricSnapshot } from "./metrics.js";
import { readImports } from "./module-info.js";
import type { PropertyBag } from "./properties.js";
import { PluginRuntime } from "./runtime.js";
import type { HttpContext, LoadPluginOptions, Plugin, StreamContext } from "./types.js";
import { Wasm, type WasmModule } from "./wasm-api.js";

class LoadedPlugin implements Plugin {
  constructor(
    private readonly rt: PluginRuntime,
    private readonly onClose: (p: Plugin) => void,
  ) {}

  get name() {
    return this.rt.name;
  }
  get rootId() {
    return this.rt.rootId;
  }
  get vmId() {
    return this.rt.vmId;
  }
  get type() {
    return this.rt.type;
  }
  get failStrategy() {
    return this.rt.failStrategy;
  }
  get abiVersion() {
    return this.rt.abiVersion;
  }
  get failed() {
    return this.rt.failure;
  }

  newHttpContext(attrs: PropertyBag = {}): HttpContext {
    if (this.rt.type !== "HTTP")
      throw new AmbitError("AMBIT_WASM_TYPE", `wasm plugin ${this.name} is a NETWORK plugin`);
    return new HttpContextHandle(this.rt, this.rt.newContext("http", attrs));
  }

  newStreamContext(attrs: PropertyBag = {}): StreamContext {
    if (this.rt.type !== "NETWORK")
      throw new AmbitError("AMBIT_WASM_TYPE", `wasm plugin ${this.name} is an HTTP plugin`);
    return new StreamContextHandle(this.rt, this.rt.newContext("stream", attrs));
  }

  memoryBytes(): number {
    return this.rt.mem.size;
  }

  liveContexts(): number {
    return this.rt.contexts.size;
  }

  close(): void {
    this.rt.close();
    this.onClose(this);
  }
}

function abiVersionOf(module: WasmModule): AbiVersion | undefined {
  const names = new Set(Wasm.Module.exports(module).map((e) => e.name));
  return ABI_MARKERS.find(([marker]) => names.has(marker))?.[1];
}

export class WasmPluginHost {
  private readonly state = new HostState();
  private readonly plugins = new Set<Plugin>();

  /**
   * Compiles and starts a plugin: instantiation, proxy_on_context_create(root), proxy_on_vm_start,
   * proxy_on_configure. Rejects with AMBIT_WASM_LOAD when any step fails; the caller applies failStrategy.
   */
  async loadPlugin(opts: LoadPluginOptions): Promise<Plugin> {
    let module: WasmModule;
    try {
      module = await Wasm.compile(opts.bytes);
    } catch (e) {
      throw new AmbitError("AMBIT_WASM_LOAD", `wasm plugin ${opts.name}: ${(e as Error).message}`, { cause: e });
    }
    const abi = abiVersionOf(module);
    if (abi === undefined) {
      throw new AmbitError(
        "AMBIT_WASM_LOAD",
        `wasm plugin ${opts.name}: no proxy_abi_version_0_2_0/0_2_1 export (only ABI 0.2.x is supported)`,
      );
    }
    const rt = new PluginRuntime(this.state, module, abi, readImports(opts.bytes), opts);
    try {
      await rt.start();
    } catch (e) {
      rt.close();
      if (e instanceof AmbitError) throw e;
      throw new AmbitError("AMBIT_WASM_LOAD", `wasm plugin ${opts.name}: ${(e as Error).message}`, { cause: e });
    }
    const plugin = new LoadedPlugin(rt, (p) => this.plugins.delete(p));
    this.plugins.add(plugin);
    return plugin;
  }

  /** Every metric plugins defined, for export to Prometheus. */
  metrics(): MetricSnapshot[] {
    return this.state.metrics.snapshot();
  }

  /** Reads shared data (for diagnostics and tests). */
  sharedData(key: string, vmId = ""): Uint8Array | undefined {
    return this.state.sharedData.get(vmId, key)?.value;
  }

  close(): void {
    for (const p of [...this.plugins]) p.close();
  }
}

/** Loads a plugin into its own host; use a shared WasmPluginHost when plugins should share metrics and data. */
export function loadPlugin(opts: LoadPluginOptions & { host?: WasmPluginHost }): Promise<Plugin> {
  return (opts.host ?? new WasmPluginHost()).loadPlugin(opts);
}
