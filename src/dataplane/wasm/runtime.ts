// One plugin's VM: instantiation, the root-context lifecycle, calls into the guest with the active context set,
// and failure handling. Host functions (imports.ts, wasi.ts) act on `effective`, the context whose callback runs.

import { AmbitError } from "../../errors.js";
import { type AbiVersion, Action, LOG_LEVEL_NAMES, type LogLevelName } from "./abi.js";
import { ContextState } from "./context-state.js";
import type { HostState } from "./host-state.js";
import { buildImports } from "./imports.js";
import { GuestMemory } from "./memory.js";
import type { ImportInfo } from "./module-info.js";
import type { PropertyBag } from "./properties.js";
import type { Clock, FailStrategy, HostCalls, HttpAction, LoadPluginOptions, LogSink, PluginType } from "./types.js";
import { Wasm, type WasmImports, type WasmInstance, type WasmMemory, type WasmModule } from "./wasm-api.js";

type GuestFn = (a?: number, b?: number, c?: number, d?: number, e?: number) => number | undefined;

/** Returned by invoke() when the guest trapped. */
export const TRAP = Symbol("trap");

/** proc_exit unwinds the guest like a trap; `_start` exiting with 0 is a normal end. */
export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`plugin called proc_exit(${code})`);
  }
}

const systemClock: Clock = {
  nowNanos: () => BigInt(Date.now()) * 1_000_000n,
  monotonicNanos: () => process.hrtime.bigint(),
};

const stderrLog: LogSink = (level, message, plugin) => {
  process.stderr.write(`wasm ${level} [${plugin}] ${message}\n`);
};

function encodeConfig(value: unknown): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  return Buffer.from(JSON.stringify(value), "utf8");
}

export class PluginRuntime {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly type: PluginType;
  readonly failStrategy: FailStrategy;
  readonly clock: Clock;
  readonly logSink: LogSink;
  readonly logLevel: number;
  readonly hostCalls: HostCalls | undefined;
  readonly vmEnv: Record<string, string>;
  readonly pluginConfig: Uint8Array;
  readonly vmConfig: Uint8Array;
  readonly pluginProps: PropertyBag;

  mem!: GuestMemory;
  private fns: Record<string, GuestFn | undefined> = {};
  generation = 0;
  root!: ContextState;
  readonly contexts = new Map<number, ContextState>();
  effective!: ContextState;
  private nextId = 1;
  failure: Error | undefined;
  closed = false;
  private tickTimer: NodeJS.Timeout | undefined;
  readonly timers = new Set<NodeJS.Timeout>();
  nextCallId = 1;
  private readonly imports: WasmImports;
  readonly queueReady = (queueId: number) => this.onQueueReady(queueId);

  constructor(
    readonly host: HostState,
    readonly module: WasmModule,
    readonly abiVersion: AbiVersion,
    importInfo: ImportInfo[],
    opts: LoadPluginOptions,
  ) {
    this.name = opts.name;
    this.rootId = opts.rootId ?? "";
    this.vmId = opts.vmId ?? "";
    this.type = opts.type ?? "HTTP";
    this.failStrategy = opts.failStrategy ?? "FAIL_CLOSE";
    this.clock = opts.clock ?? systemClock;
    this.logSink = opts.log ?? stderrLog;
    this.logLevel = LOG_LEVEL_NAMES.indexOf(opts.logLevel ?? "info");
    this.hostCalls = opts.hostCalls;
    this.vmEnv = opts.vmEnv ?? {};
    this.pluginConfig = encodeConfig(opts.pluginConfig);
    this.vmConfig = encodeConfig(opts.vmConfig);
    this.pluginProps = {
      ...opts.properties,
      plugin_name: this.name,
      plugin_root_id: this.rootId,
      plugin_vm_id: this.vmId,
    };
    this.imports = buildImports(this, importInfo);
  }

  log(level: LogLevelName, message: string): void {
    if (LOG_LEVEL_NAMES.indexOf(level) >= this.logLevel) this.logSink(level, message, this.name);
  }

  /** Instantiates the module and runs the root lifecycle; a refusal or trap here is a load failure. */
  async start(): Promise<void> {
    const instance = await Wasm.instantiate(this.module, this.imports);
    this.bind(instance);
  }

  private bind(instance: WasmInstance): void {
    const exports = instance.exports;
    const memory = exports.memory ?? this.importedMemory();
    if (!(memory instanceof Wasm.Memory)) throw this.loadError("the module has no memory");
    const fn = (name: string) => (typeof exports[name] === "function" ? (exports[name] as GuestFn) : undefined);
    const names = Object.keys(exports).filter((n) => typeof exports[n] === "function");
    this.fns = Object.fromEntries(names.map((n) => [n, fn(n)]));
    const alloc = this.fns.proxy_on_memory_allocate ?? this.fns.malloc;
    this.mem = new GuestMemory(memory, alloc === undefined ? undefined : (n) => alloc(n) ?? 0);
    this.generation++;
    this.contexts.clear();
    this.nextId = 1;
    this.root = new ContextState(this.nextId++, "root", this.generation, {});
    this.effective = this.root;
    this.failure = undefined;
    this.lifecycle();
  }

  private importedMemory(): WasmMemory | undefined {
    const memory = this.imports.env?.memory;
    return memory instanceof Wasm.Memory ? memory : undefined;
  }

  private lifecycle(): void {
    const initialize = this.fns._initialize;
    if (initialize !== undefined) {
      this.guard("_initialize", () => initialize());
      const main = this.fns.main;
      if (main !== undefined) this.guard("main", () => main(0, 0));
    } else {
      const start = this.fns._start;
      if (start !== undefined) this.guard("_start", () => start());
    }
    const root = this.root.id;
    this.guard("proxy_on_context_create", () => this.fns.proxy_on_context_create?.(root, 0));
    const vmStart = this.fns.proxy_on_vm_start;
    if (vmStart !== undefined && !this.guard("proxy_on_vm_start", () => vmStart(root, this.vmConfig.length))) {
      throw this.loadError("proxy_on_vm_start returned false");
    }
    const configure = this.fns.proxy_on_configure;
    if (configure !== undefined && !this.guard("proxy_on_configure", () => configure(root, this.pluginConfig.length))) {
      throw this.loadError("proxy_on_configure rejected the plugin configuration");
    }
  }

  /** Runs a lifecycle export; traps become AMBIT_WASM_LOAD. Returns whether the guest answered true. */
  private guard(what: string, call: () => number | undefined): boolean {
    this.effective = this.root;
    try {
      const r = call();
      return r === undefined || r !== 0;
    } catch (e) {
      if (e instanceof ProcExit && e.code === 0 && (what === "_start" || what === "main")) return true;
      throw this.loadError(`${what} trapped: ${(e as Error).message}`, e);
    }
  }

  private loadError(message: string, cause?: unknown): AmbitError {
    return new AmbitError("AMBIT_WASM_LOAD", `wasm plugin ${this.name}: ${message}`, { cause });
  }

  fn(name: string): GuestFn | undefined {
    return this.fns[name];
  }

  /** Calls into the guest with `ctx` as the active context. Traps are contained: they fail the plugin. */
  invoke(ctx: ContextState, fn: GuestFn, a = 0, b = 0, c = 0, d = 0, e = 0): number | typeof TRAP {
    const prev = this.effective;
    this.effective = ctx;
    try {
      return fn(a, b, c, d, e) ?? 0;
    } catch (err) {
      this.onTrap(err);
      return TRAP;
    } finally {
      this.effective = prev;
    }
  }

  private onTrap(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.failure === undefined) this.log("error", `plugin failed (${this.failStrategy}): ${error.message}`);
    this.failure = error;
    this.setTickPeriod(0);
    // A trapped VM cannot be trusted to resume anything it paused.
    const action = this.failAction();
    for (const ctx of this.contexts.values()) if (ctx.resumeAll(action)) ctx.failed = true;
  }

  failAction(): HttpAction {
    if (this.failStrategy === "FAIL_OPEN") return "continue";
    if (this.type === "NETWORK") return "close";
    const body = Buffer.from(`wasm plugin ${this.name} failed`);
    return {
      localResponse: { status: 500, body, headers: [["content-type", "text/plain"]], details: "wasm_fail_stream" },
    };
  }

  /** Creates a stream context; with FAIL_RELOAD a failed VM is replaced first. */
  newContext(kind: "http" | "stream", bag: PropertyBag): ContextState {
    if (this.closed) throw new AmbitError("AMBIT_WASM_CLOSED", `wasm plugin ${this.name} is closed`);
    if (this.failure !== undefined && this.failStrategy === "FAIL_RELOAD") this.reload();
    const ctx = new ContextState(this.nextId++, kind, this.generation, bag);
    if (this.failure !== undefined) return ctx;
    this.contexts.set(ctx.id, ctx);
    const create = this.fns.proxy_on_context_create;
    if (create !== undefined) this.invoke(ctx, create, ctx.id, this.root.id);
    return ctx;
  }

  private reload(): void {
    this.log("warn", "reloading the VM after a failure (FAIL_RELOAD)");
    try {
      this.bind(new Wasm.Instance(this.module, this.imports));
    } catch (e) {
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.log("error", `reload failed: ${this.failure.message}`);
    }
  }

  /** Runs a stream callback and turns the guest's answer and requests into the chain's action. */
  streamCallback(ctx: ContextState, name: string, direction: number, a: number, b = 0, c = 0): HttpAction {
    if (ctx.deleted || ctx.failed) return "continue";
    if (this.failure !== undefined || ctx.generation !== this.generation) {
      ctx.failed = true;
      return this.failAction();
    }
    const fn = this.fns[name];
    if (fn === undefined) return "continue";
    ctx.inStreamCallback = true;
    const r = this.invoke(ctx, fn, a, b, c);
    ctx.inStreamCallback = false;
    if (r === TRAP) {
      ctx.failed = true;
      return this.failAction();
    }
    const local = ctx.localResponse;
    if (local !== undefined) {
      ctx.localResponse = undefined;
      return { localResponse: local };
    }
    if (ctx.closeRequested) {
      ctx.closeRequested = false;
      return "close";
    }
    if (r === Action.PAUSE) {
      ctx.pause(direction);
      return "pause";
    }
    return "continue";
  }

  /** Calls a callback without an action (log, close events); traps only fail the plugin. */
  notify(ctx: ContextState, name: string, a: number, b = 0): void {
    if (ctx.failed || this.failure !== undefined || ctx.generation !== this.generation) return;
    const fn = this.fns[name];
    if (fn !== undefined) this.invoke(ctx, fn, a, b);
  }

  done(ctx: ContextState): boolean {
    if (ctx.failed || this.failure !== undefined || ctx.generation !== this.generation) return true;
    const fn = this.fns.proxy_on_done;
    if (fn === undefined) return true;
    const r = this.invoke(ctx, fn, ctx.id);
    if (r === TRAP || r !== 0) return true;
    ctx.awaitingDone = true;
    return false;
  }

  deleteContext(ctx: ContextState): void {
    if (ctx.deleted) return;
    this.notify(ctx, "proxy_on_delete", ctx.id);
    ctx.deleted = true;
    ctx.resumeAll("close");
    ctx.done.resolve();
    this.contexts.delete(ctx.id);
  }

  setTickPeriod(ms: number): void {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    if (ms > 0 && !this.closed) {
      this.tickTimer = setInterval(() => this.notify(this.root, "proxy_on_tick", this.root.id), ms);
    }
  }

  private onQueueReady(queueId: number): void {
    if (!this.closed) this.notify(this.root, "proxy_on_queue_ready", this.root.id, queueId);
  }

  close(): void {
    if (this.closed) return;
    for (const ctx of [...this.contexts.values()]) this.deleteContext(ctx);
    if (this.failure === undefined) {
      this.notify(this.root, "proxy_on_done", this.root.id);
      this.notify(this.root, "proxy_on_delete", this.root.id);
    }
    this.closed = true;
    this.setTickPeriod(0);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.host.queues.forget(this.queueReady);
  }
}
