// The plugins' metrics (proxy_define_metric, kept by the WasmPluginHost) exported through the waypoint's
// prom-client registry: before each scrape, every metric name becomes a registered family whose values are the
// host's current snapshot. Tags carried as `name;key=value` become labels. A name another family already owns
// (istio_requests_total, ...) is not exported.

import type { Registry } from "prom-client";
import type { MetricSnapshot, WasmPluginHost } from "../../wasm/index.js";

interface Value {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^(\d)/, "_$1");

/** A prom-client metric whose values are set from outside at each collection. */
class ExportedFamily {
  values: Value[] = [];
  constructor(
    readonly name: string,
    readonly type: "counter" | "gauge" | "histogram",
  ) {}
  readonly help = "Wasm plugin metric";
  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values, aggregator: "sum" };
  }
  reset(): void {}
}

function valuesOf(m: MetricSnapshot, name: string): Value[] {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.labels)) labels[sanitize(k)] = v;
  if (m.kind !== "histogram" || !m.histogram) return [{ labels, value: m.value }];
  const h = m.histogram;
  return [
    ...h.buckets.map((b) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: b.le }, value: b.count })),
    { metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: h.count },
    { metricName: `${name}_sum`, labels, value: h.sum },
    { metricName: `${name}_count`, labels, value: h.count },
  ];
}

/** Registers the collection hook; returns the function that refreshes the families (run before each scrape). */
export function exportWasmMetrics(host: WasmPluginHost, registry: Registry): () => void {
  const families = new Map<string, ExportedFamily>();
  return () => {
    const fresh = new Map<string, Value[]>();
    for (const m of host.metrics()) {
      const name = sanitize(m.name);
      let f = families.get(name);
      if (!f) {
        f = new ExportedFamily(name, m.kind);
        families.set(name, f);
      }
      if (f.type !== m.kind) continue;
      const list = fresh.get(name) ?? [];
      list.push(...valuesOf(m, name));
      fresh.set(name, list);
    }
    for (const [name, values] of fresh) {
      const f = families.get(name)!;
      f.values = values;
      const owner = registry.getSingleMetric(name) as unknown;
      // Registered again after the waypoint re-creates its families (registry.clear on new Telemetry tags).
      if (owner === undefined) registry.registerMetric(f as unknown as Parameters<Registry["registerMetric"]>[0]);
    }
  };
}
