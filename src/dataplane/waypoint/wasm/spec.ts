// A WasmPlugin object (policy.md §5) read into what the waypoint needs: how to load it (url, sha256, config,
// env, failStrategy, type), where it runs (phase, priority) and which requests it covers (match, targetRefs).
// Pure: the host environment for `vmConfig.env` HOST entries is passed in.

import type { WasmPlugin } from "../../../api/resources.js";
import type { FailStrategy, PluginType } from "../../wasm/index.js";
import type { ExtensionPhase } from "../chain.js";
import type { Destination } from "../state.js";

export interface WasmPluginSpec {
  /** `<namespace>/<name>`. */
  key: string;
  namespace: string;
  name: string;
  url: string;
  sha256: string | undefined;
  imagePullPolicy: "IfNotPresent" | "Always" | undefined;
  phase: ExtensionPhase;
  priority: number | undefined;
  creationTimestamp: string | undefined;
  /** Envoy root_id. */
  pluginName: string | undefined;
  pluginConfig: unknown;
  vmEnv: Record<string, string>;
  /** Selectors; empty = every request. */
  match: Array<{ mode: string; ports: number[] }>;
  failStrategy: FailStrategy;
  type: PluginType;
  /** Service keys (`ns/name`) the plugin is limited to; undefined = waypoint-wide (Gateway, GatewayClass). */
  services: ReadonlySet<string> | undefined;
}

const PHASES: readonly string[] = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];
const FAIL: readonly string[] = ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"];

type Raw = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function targets(spec: Raw, namespace: string): ReadonlySet<string> | undefined {
  const refs = [...((spec.targetRefs as Raw[] | undefined) ?? []), ...(spec.targetRef ? [spec.targetRef as Raw] : [])];
  // Any waypoint-wide reference (Gateway, GatewayClass), or none at all, covers every request.
  if (refs.length === 0 || refs.some((r) => r.kind !== "Service" && r.kind !== "ServiceEntry")) return undefined;
  return new Set(refs.map((r) => `${str(r.namespace) ?? namespace}/${String(r.name)}`));
}

function vmEnv(spec: Raw, hostEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of ((spec.vmConfig as Raw | undefined)?.env as Raw[] | undefined) ?? []) {
    const name = str(e.name);
    if (!name) continue;
    // HOST copies the proxy's own variable; INLINE (the default) sets the given value.
    const value = e.valueFrom === "HOST" ? hostEnv[name] : String(e.value ?? "");
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export function readWasmPlugin(
  wp: WasmPlugin,
  hostEnv: Readonly<Record<string, string | undefined>> = {},
): WasmPluginSpec {
  const spec = (wp.spec ?? {}) as Raw;
  const namespace = wp.metadata.namespace ?? "default";
  const phase = String(spec.phase ?? "UNSPECIFIED_PHASE");
  const fail = String(spec.failStrategy ?? "FAIL_CLOSE");
  const priority = spec.priority;
  return {
    key: `${namespace}/${wp.metadata.name}`,
    namespace,
    name: wp.metadata.name,
    url: str(spec.url) ?? "",
    sha256: str(spec.sha256),
    imagePullPolicy:
      spec.imagePullPolicy === "Always" || spec.imagePullPolicy === "IfNotPresent" ? spec.imagePullPolicy : undefined,
    phase: (PHASES.includes(phase) ? phase : "UNSPECIFIED_PHASE") as ExtensionPhase,
    priority: typeof priority === "number" && Number.isInteger(priority) ? priority : undefined,
    creationTimestamp: str((wp.metadata as unknown as Raw).creationTimestamp),
    pluginName: str(spec.pluginName),
    pluginConfig: spec.pluginConfig,
    vmEnv: vmEnv(spec, hostEnv),
    match: ((spec.match as Raw[] | undefined) ?? []).map((m) => ({
      mode: String(m.mode ?? "UNDEFINED"),
      ports: ((m.ports as Raw[] | undefined) ?? []).map((p) => Number(p.number)),
    })),
    failStrategy: (FAIL.includes(fail) ? fail : "FAIL_CLOSE") as FailStrategy,
    type: spec.type === "NETWORK" ? "NETWORK" : "HTTP",
    services: targets(spec, namespace),
  };
}

/** What decides whether a loaded module can be reused: a change here loads a new VM. */
export function loadFingerprint(s: WasmPluginSpec): string {
  return JSON.stringify([
    s.url,
    s.sha256,
    s.imagePullPolicy,
    s.pluginName,
    s.pluginConfig,
    s.vmEnv,
    s.failStrategy,
    s.type,
  ]);
}

/**
 * Whether a request to `destination` is covered. `match[].mode`: waypoint HTTP chains are built as inbound
 * (SERVER), so CLIENT selectors never select them (policy.md §5); ports are the destination's service port (or
 * the workload port for pod-addressed traffic).
 */
export function covers(s: WasmPluginSpec, destination: Destination): boolean {
  if (s.services && (destination.kind !== "service" || !s.services.has(destination.service.key))) return false;
  if (s.match.length === 0) return true;
  const port = destination.kind === "service" ? destination.port.port : destination.port;
  return s.match.some((m) => m.mode !== "CLIENT" && (m.ports.length === 0 || m.ports.includes(port)));
}
