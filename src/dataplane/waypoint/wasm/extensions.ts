// WasmPlugins in the waypoint: turns `config.wasmPlugins` into the chain's extension filters (HTTP) and the TCP
// path's extension (NETWORK). One
// WasmPluginHost per waypoint (shared metrics, shared data, queues); one slot per WasmPlugin that keeps its VM
// across config updates and swaps in a changed one in the background. Plugins new to the config are loaded before
// the config is applied (so a new security plugin is never skipped); changed ones replace the old VM when ready.
//
//   const wasm = new WaypointWasm({ certs, metrics: waypoint.metrics });
//   const waypoint = new Waypoint({ ..., extensions: (config) => wasm.extensions(config) });

import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WaypointL7Config } from "../../../xds/waypoint-config.js";
import { HbonePool } from "../../hbone/pool.js";
import type { CertProvider } from "../../hbone/tls.js";
import { type LogSink, orderPlugins, WasmPluginHost } from "../../wasm/index.js";
import type { ExtensionFilter } from "../chain.js";
import type { WaypointMetrics } from "../metrics.js";
import { setTcpExtension } from "../tcp.js";
import { Upstreams } from "../upstream.js";
import { WasmFilter } from "./filter.js";
import { waypointHttpCalls } from "./http-calls.js";
import { exportWasmMetrics } from "./metrics.js";
import { NetworkPlugins } from "./network.js";
import { PluginSlot } from "./slot.js";
import { readWasmPlugin } from "./spec.js";

export interface WaypointWasmOptions {
  /** The waypoint's certificate: proxy_http_call to mesh services goes over HBONE with this identity. */
  certs: CertProvider;
  /** The waypoint's metrics: plugin metrics are exported on its /metrics. */
  metrics?: WaypointMetrics;
  /** Module cache; default `<os tmpdir>/ambit-wasm`. */
  cacheDir?: string;
  /** Base of `file://./relative` URLs; default the working directory. */
  baseDir?: string;
  /** Environment for `vmConfig.env` entries with `valueFrom: HOST`; default process.env. */
  hostEnv?: Readonly<Record<string, string | undefined>>;
  /** Port of destinations' HBONE listeners for http calls; default 15008. */
  upstreamHbonePort?: number;
  fetchTimeoutMs?: number;
  /** Plugin log sink; default stderr. */
  log?: LogSink;
}

const stderrLog: LogSink = (level, message, plugin) => process.stderr.write(`wasm ${level} [${plugin}] ${message}\n`);

export class WaypointWasm {
  readonly host = new WasmPluginHost();
  readonly #slots = new Map<string, PluginSlot>();
  readonly #pending = new Set<Promise<void>>();
  readonly #opts: WaypointWasmOptions;
  readonly #pool: HbonePool;
  readonly #upstreams: Upstreams;
  readonly #detachMetrics: (() => void) | undefined;
  #config: WaypointL7Config | undefined;

  constructor(opts: WaypointWasmOptions) {
    this.#opts = opts;
    this.#pool = new HbonePool({ certs: opts.certs });
    this.#upstreams = new Upstreams({
      pool: this.#pool,
      hbonePort: opts.upstreamHbonePort ?? 15008,
      connectTimeoutMs: 10_000,
    });
    const m = opts.metrics;
    this.#detachMetrics = m ? m.onCollect(exportWasmMetrics(this.host, m.registry)) : undefined;
  }

  /** The `extensions` option of `new Waypoint(...)`. Never throws: a plugin that fails gets its failStrategy. */
  async extensions(config: WaypointL7Config): Promise<ExtensionFilter[]> {
    const specs = config.wasmPlugins.map((wp) => readWasmPlugin(wp, this.#opts.hostEnv ?? process.env));
    this.#config = config;
    const first: Promise<void>[] = [];
    const keep = new Set<string>();
    for (const spec of specs) {
      keep.add(spec.key);
      let slot = this.#slots.get(spec.key);
      const isNew = slot === undefined;
      if (!slot) {
        slot = new PluginSlot(spec.key, {
          host: this.host,
          cacheDir: this.#opts.cacheDir ?? join(tmpdir(), "ambit-wasm"),
          baseDir: this.#opts.baseDir ?? process.cwd(),
          hostCalls: waypointHttpCalls({ config: () => this.#config, upstreams: this.#upstreams }),
          log: this.#opts.log ?? stderrLog,
          fetchTimeoutMs: this.#opts.fetchTimeoutMs ?? 30_000,
        });
        this.#slots.set(spec.key, slot);
      }
      const loading = slot.update(spec);
      this.#track(loading);
      if (isNew) first.push(loading);
    }
    for (const [key, slot] of this.#slots) {
      if (keep.has(key)) continue;
      slot.close();
      this.#slots.delete(key);
    }
    // http-call connections to endpoints that left the config are dropped, as the router's are.
    this.#upstreams.retain(
      new Set([...config.services.flatMap((sv) => sv.endpoints), ...config.workloads].map((e) => e.address)),
    );
    await Promise.all(first);
    const ordered = orderPlugins(specs);
    // NETWORK plugins run in the TCP path; the HTTP chain only gets HTTP ones.
    const network = ordered.filter((s) => s.type === "NETWORK");
    setTcpExtension(
      config,
      network.length === 0
        ? undefined
        : new NetworkPlugins(network.map((spec) => ({ spec, slot: this.#slots.get(spec.key)! }))),
    );
    return ordered.filter((s) => s.type === "HTTP").map((spec) => new WasmFilter(spec, this.#slots.get(spec.key)!));
  }

  /** Resolves once every load started so far has settled (loaded or failed). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    for (const slot of this.#slots.values()) slot.close();
    this.#slots.clear();
    this.#detachMetrics?.();
    await this.#upstreams.close();
    await this.#pool.close();
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }
}
