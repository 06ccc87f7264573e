// The Telemetry API as one waypoint applies it to one service (policy.md §4): levels root namespace →
// waypoint namespace → service namespace (selector-less, oldest per namespace) → targetRefs to the waypoint →
// targetRefs to the service; later levels override earlier ones. Only the prometheus metrics provider, the
// `envoy` access-log provider (Istio's text format to stdout) and tracing's sampling rate are implemented.

import type { Telemetry } from "../../api/resources.js";
import { AmbitError } from "../../errors.js";
import { compileExpr, type Expr } from "./expr.js";

export const HTTP_METRICS = ["REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE"] as const;
export const TCP_METRICS = [
  "TCP_OPENED_CONNECTIONS",
  "TCP_CLOSED_CONNECTIONS",
  "TCP_SENT_BYTES",
  "TCP_RECEIVED_BYTES",
] as const;
export type MetricKind = (typeof HTTP_METRICS)[number] | (typeof TCP_METRICS)[number];
const ALL_KINDS: readonly MetricKind[] = [...HTTP_METRICS, ...TCP_METRICS];

export interface TagOverride {
  operation: "UPSERT" | "REMOVE";
  value?: Expr;
}

export interface MetricSettings {
  enabled: boolean;
  /** Label name → override, applied over Istio's standard labels. */
  tags: ReadonlyMap<string, TagOverride>;
}

export interface TelemetrySettings {
  metrics: Readonly<Record<MetricKind, MetricSettings>>;
  accessLog: { enabled: boolean; filter: Expr | undefined };
  /** 0–100. */
  samplingPercent: number;
}

export interface TelemetryDefaults {
  /** Tracing sampling when no level sets it (Istio: PILOT_TRACE_SAMPLING, 1%). */
  samplingPercent: number;
  /** Access logging when no Telemetry configures it (Istio: meshConfig.accessLogFile). */
  accessLog: boolean;
}

interface Scope {
  waypointNamespace: string;
  rootNamespace: string;
  service: { namespace: string; name: string } | undefined;
}

function invalid(t: Telemetry, why: string): AmbitError {
  return new AmbitError("AMBIT_WAYPOINT_CONFIG", `Telemetry ${t.metadata.namespace}/${t.metadata.name}: ${why}`);
}

function targets(t: Telemetry) {
  return t.spec?.targetRefs ?? (t.spec?.targetRef ? [t.spec.targetRef] : []);
}

/** The Telemetries that apply, lowest level first. */
function levels(all: readonly Telemetry[], s: Scope): Telemetry[] {
  const oldestWide = (ns: string) =>
    all
      .filter((t) => (t.metadata.namespace ?? "default") === ns && targets(t).length === 0 && !t.spec?.selector)
      .sort(
        (a, b) => Date.parse(a.metadata.creationTimestamp ?? "") - Date.parse(b.metadata.creationTimestamp ?? ""),
      )[0];
  const out: Telemetry[] = [];
  const namespaces = [s.rootNamespace, s.waypointNamespace];
  if (s.service && !namespaces.includes(s.service.namespace)) namespaces.push(s.service.namespace);
  for (const ns of new Set(namespaces)) {
    const t = oldestWide(ns);
    if (t) out.push(t);
  }
  for (const t of all) if (targets(t).some((r) => r.kind === "Gateway" || r.kind === "GatewayClass")) out.push(t);
  if (s.service) {
    const svc = s.service;
    for (const t of all) {
      const ns = t.metadata.namespace ?? "default";
      if (
        targets(t).some(
          (r) => (r.kind === "Service" || r.kind === "ServiceEntry") && r.name === svc.name && ns === svc.namespace,
        )
      )
        out.push(t);
    }
  }
  return out;
}

const appliesToServer = (m: Record<string, unknown> | undefined) => {
  const mode = (m?.mode as string | undefined) ?? "CLIENT_AND_SERVER";
  return mode === "SERVER" || mode === "CLIENT_AND_SERVER";
};

const usesProvider = (providers: unknown, names: readonly string[]) =>
  providers === undefined || (providers as Array<{ name?: string }>).some((p) => names.includes(p.name ?? ""));

function applyMetrics(t: Telemetry, metrics: Record<MetricKind, { enabled: boolean; tags: Map<string, TagOverride> }>) {
  for (const m of (t.spec?.metrics as Array<Record<string, unknown>> | undefined) ?? []) {
    if (!usesProvider(m.providers, ["prometheus"])) continue;
    for (const o of (m.overrides as Array<Record<string, unknown>> | undefined) ?? []) {
      const match = o.match as Record<string, unknown> | undefined;
      if (!appliesToServer(match)) continue;
      if (match?.customMetric !== undefined) continue;
      const metric = (match?.metric as string | undefined) ?? "ALL_METRICS";
      const kinds =
        metric === "ALL_METRICS" ? ALL_KINDS : ALL_KINDS.includes(metric as MetricKind) ? [metric as MetricKind] : [];
      if (kinds.length === 0 && !metric.startsWith("GRPC_")) throw invalid(t, `unknown metric ${metric}`);
      const tagOverrides = (o.tagOverrides as Record<string, Record<string, unknown>> | undefined) ?? {};
      const compiled = Object.entries(tagOverrides).map(([name, spec]): [string, TagOverride] => {
        const operation = (spec.operation as string | undefined) ?? "UPSERT";
        if (operation === "REMOVE") {
          if (spec.value !== undefined) throw invalid(t, `tag ${name}: REMOVE takes no value`);
          return [name, { operation }];
        }
        if (operation !== "UPSERT" || typeof spec.value !== "string")
          throw invalid(t, `tag ${name}: UPSERT needs a value`);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw invalid(t, `tag ${name} is not a valid label name`);
        return [name, { operation, value: compileExpr(spec.value) }];
      });
      for (const k of kinds) {
        // A later override naming a metric re-enables it unless it says disabled itself (mergeMetrics).
        if (o.disabled === true) metrics[k].enabled = false;
        else if (o.disabled === false || metric !== "ALL_METRICS") metrics[k].enabled = true;
        for (const [name, ov] of compiled) metrics[k].tags.set(name, ov);
      }
    }
  }
}

export function telemetryFor(all: readonly Telemetry[], scope: Scope, defaults: TelemetryDefaults): TelemetrySettings {
  const metrics = Object.fromEntries(
    ALL_KINDS.map((k) => [k, { enabled: true, tags: new Map<string, TagOverride>() }]),
  ) as Record<MetricKind, { enabled: boolean; tags: Map<string, TagOverride> }>;
  const accessLog: TelemetrySettings["accessLog"] = { enabled: defaults.accessLog, filter: undefined };
  let samplingPercent = defaults.samplingPercent;
  for (const t of levels(all, scope)) {
    applyMetrics(t, metrics);
    for (const a of (t.spec?.accessLogging as Array<Record<string, unknown>> | undefined) ?? []) {
      if (!appliesToServer(a.match as Record<string, unknown> | undefined)) continue;
      if (!usesProvider(a.providers, ["envoy"])) continue;
      accessLog.enabled = a.disabled !== true;
      const expr = (a.filter as Record<string, unknown> | undefined)?.expression;
      if (expr !== undefined) accessLog.filter = compileExpr(String(expr));
    }
    for (const tr of (t.spec?.tracing as Array<Record<string, unknown>> | undefined) ?? []) {
      if (!appliesToServer(tr.match as Record<string, unknown> | undefined)) continue;
      if (tr.randomSamplingPercentage !== undefined) {
        const p = Number(tr.randomSamplingPercentage);
        if (!(p >= 0 && p <= 100)) throw invalid(t, `randomSamplingPercentage ${tr.randomSamplingPercentage}`);
        samplingPercent = p;
      }
    }
  }
  return { metrics, accessLog, samplingPercent };
}
