// Metrics plugins define through proxy_define_metric. They live in the host (Envoy's stats store is process-wide),
// so two plugins defining the same name share it; the waypoint exports the snapshot to Prometheus.

import { Status } from "./abi.js";

export type MetricKind = "counter" | "gauge" | "histogram";

// Envoy's default histogram bucket bounds.
const BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export interface MetricSnapshot {
  /** The name as the plugin defined it. */
  fullName: string;
  /** The name without tags; see parseMetricName. */
  name: string;
  labels: Record<string, string>;
  kind: MetricKind;
  /** Counter or gauge value; for a histogram the number of observations. */
  value: number;
  histogram?: { sum: number; count: number; buckets: Array<{ le: number; count: number }> };
}

interface Metric {
  fullName: string;
  kind: MetricKind;
  value: bigint;
  sum: number;
  bucketCounts: number[];
}

/**
 * Plugins carry tags in the name as `name;key=value;key2=value2` (our convention; Envoy extracts tags by regex).
 * A segment without `=` stays part of the name.
 */
export function parseMetricName(fullName: string): { name: string; labels: Record<string, string> } {
  const [name = "", ...rest] = fullName.split(";");
  const labels: Record<string, string> = {};
  let base = name;
  for (const seg of rest) {
    const eq = seg.indexOf("=");
    if (eq > 0) labels[seg.slice(0, eq)] = seg.slice(eq + 1);
    else base += `;${seg}`;
  }
  return { name: base, labels };
}

export class MetricStore {
  private readonly byId: Metric[] = [];
  private readonly ids = new Map<string, number>();

  /** Returns the metric id (ids start at 1), or undefined when the name exists with another kind. */
  define(kind: MetricKind, fullName: string): number | undefined {
    const existing = this.ids.get(fullName);
    if (existing !== undefined) return this.byId[existing - 1]!.kind === kind ? existing : undefined;
    this.byId.push({ fullName, kind, value: 0n, sum: 0, bucketCounts: BUCKETS.map(() => 0) });
    const id = this.byId.length;
    this.ids.set(fullName, id);
    return id;
  }

  increment(id: number, delta: bigint): number {
    const m = this.byId[id - 1];
    if (m === undefined) return Status.NOT_FOUND;
    if (m.kind === "histogram" || (m.kind === "counter" && delta < 0n)) return Status.BAD_ARGUMENT;
    m.value += delta;
    return Status.OK;
  }

  /** Sets a counter or gauge; a histogram records one observation. */
  record(id: number, value: bigint): number {
    const m = this.byId[id - 1];
    if (m === undefined) return Status.NOT_FOUND;
    if (m.kind !== "histogram") {
      m.value = value;
      return Status.OK;
    }
    const v = Number(value);
    m.value += 1n;
    m.sum += v;
    for (let i = 0; i < BUCKETS.length; i++) if (v <= BUCKETS[i]!) m.bucketCounts[i]!++;
    return Status.OK;
  }

  get(id: number): bigint | undefined {
    return this.byId[id - 1]?.value;
  }

  snapshot(): MetricSnapshot[] {
    return this.byId.map((m) => {
      const snap: MetricSnapshot = {
        fullName: m.fullName,
        ...parseMetricName(m.fullName),
        kind: m.kind,
        value: Number(m.value),
      };
      if (m.kind === "histogram") {
        snap.histogram = {
          sum: m.sum,
          count: Number(m.value),
          buckets: BUCKETS.map((le, i) => ({ le, count: m.bucketCounts[i]! })),
        };
      }
      return snap;
    });
  }
}
