// One WasmPlugin's module across config updates. A changed spec (url, sha256, config, env, strategy) loads a new
// VM in the background; the old VM keeps serving until the new one is up, then is closed once the requests that
// started on it have finished. A failed load becomes the spec's failStrategy (FAIL_OPEN: skip the plugin;
// FAIL_CLOSE and FAIL_RELOAD: 500 for the requests it covers), never an error for the waypoint.

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { FailStrategy, HostCalls, LogSink, Plugin, WasmPluginHost } from "../../wasm/index.js";
import { fetchPlugin } from "../../wasm/index.js";
import { type PluginCallbacks, pluginCallbacks } from "./callbacks.js";
import { loadFingerprint, type WasmPluginSpec } from "./spec.js";

export interface LoadDeps {
  host: WasmPluginHost;
  cacheDir: string;
  /** Base of `file://./relative/path` URLs (an Ambit convenience for local runs and examples). */
  baseDir: string;
  hostCalls: HostCalls;
  log: LogSink;
  fetchTimeoutMs: number;
}

/** A loaded VM, the per-request callbacks its module exports, and the requests running on it. */
export class LoadedVersion {
  #inflight = 0;
  #retired = false;
  constructor(
    readonly plugin: Plugin,
    readonly callbacks: PluginCallbacks,
  ) {}

  acquire(): void {
    this.#inflight++;
  }

  release(): void {
    this.#inflight--;
    if (this.#retired && this.#inflight === 0) this.plugin.close();
  }

  /** No new requests start here; the VM closes when the last one finishes. */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    if (this.#inflight === 0) this.plugin.close();
  }

  get closed(): boolean {
    return this.#retired && this.#inflight === 0;
  }
}

export type SlotState =
  | { kind: "ready"; version: LoadedVersion }
  | { kind: "failed"; error: Error; failStrategy: Exclude<FailStrategy, "FAIL_RELOAD"> };

export function resolveUrl(url: string, baseDir: string): string {
  const m = /^file:\/\/(\.{1,2}\/.*)$/.exec(url);
  if (!m) return url;
  const path = m[1]!;
  return pathToFileURL(isAbsolute(path) ? path : resolve(baseDir, path)).href;
}

export class PluginSlot {
  #state: SlotState | undefined;
  #wanted: string | undefined;
  #loading: Promise<void> | undefined;

  constructor(
    readonly key: string,
    private readonly deps: LoadDeps,
  ) {}

  /** Undefined only before the first load settles. */
  get state(): SlotState | undefined {
    return this.#state;
  }

  /** Starts loading `spec` unless that version is already loaded or loading; settles when that load does. */
  update(spec: WasmPluginSpec): Promise<void> {
    const fingerprint = loadFingerprint(spec);
    if (fingerprint === this.#wanted) return this.#loading ?? Promise.resolve();
    this.#wanted = fingerprint;
    const loading = this.#load(spec).then((next) => {
      if (this.#wanted !== fingerprint) {
        // Superseded by a newer spec (or the plugin left the config) while loading.
        if (next.kind === "ready") next.version.retire();
        return;
      }
      const prev = this.#state;
      this.#state = next;
      if (prev?.kind === "ready") prev.version.retire();
    });
    this.#loading = loading;
    return loading;
  }

  /** The plugin left the config: its VM closes once its requests finish. */
  close(): void {
    this.#wanted = undefined;
    if (this.#state?.kind === "ready") this.#state.version.retire();
  }

  async #load(spec: WasmPluginSpec): Promise<SlotState> {
    const d = this.deps;
    try {
      const { bytes } = await fetchPlugin({
        url: resolveUrl(spec.url, d.baseDir),
        sha256: spec.sha256,
        cacheDir: d.cacheDir,
        imagePullPolicy: spec.imagePullPolicy,
        timeoutMs: d.fetchTimeoutMs,
      });
      const plugin = await d.host.loadPlugin({
        name: spec.key,
        bytes,
        pluginConfig: spec.pluginConfig,
        rootId: spec.pluginName,
        vmEnv: spec.vmEnv,
        failStrategy: spec.failStrategy,
        type: spec.type,
        hostCalls: d.hostCalls,
        log: d.log,
      });
      return { kind: "ready", version: new LoadedVersion(plugin, pluginCallbacks(bytes)) };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const failStrategy = spec.failStrategy === "FAIL_OPEN" ? "FAIL_OPEN" : "FAIL_CLOSE";
      d.log("error", `not loaded (${failStrategy}): ${error.message}`, spec.key);
      return { kind: "failed", error, failStrategy };
    }
  }
}
