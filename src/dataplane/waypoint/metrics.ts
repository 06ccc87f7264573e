// Istio's standard metrics as a waypoint reports them (reporter="waypoint"; policy.md §4.2, data-plane.md §6):
// istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes, istio_response_bytes, and the
// istio_tcp_* family for TCP streams. Defined here because src/dataplane/telemetry did not have the HTTP metrics
// yet. Telemetry tag overrides can add labels: the label set is the standard one plus every upserted tag, and a
// series simply leaves a tag empty (Prometheus treats "" as absent) where its service does not set it.

import { Counter, Histogram, Registry } from "prom-client";
import type { Attributes } from "./expr.js";
import type { MetricKind, TelemetrySettings } from "./telemetry.js";

export const PEER_LABELS = [
  "reporter",
  "source_workload",
  "source_canonical_service",
  "source_canonical_revision",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_cluster",
  "destination_workload",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_service",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_service_name",
  "destination_service_namespace",
  "destination_cluster",
  "request_protocol",
  "response_flags",
  "connection_security_policy",
] as const;
export const HTTP_LABELS = [...PEER_LABELS, "response_code", "grpc_response_status"] as const;

export type Labels = Record<string, string>;

// Envoy/Istio buckets: durations in ms, sizes in bytes (exponential 1..1e8).
const DURATION_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

interface Family {
  requests: Counter;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
  tcpOpened: Counter;
  tcpClosed: Counter;
  tcpSent: Counter;
  tcpReceived: Counter;
}

export class WaypointMetrics {
  readonly registry = new Registry();
  #extra: string[] = [];
  readonly #collectors = new Set<() => void>();
  #family: Family;

  constructor() {
    this.#family = this.#create();
  }

  /** Makes sure every upserted tag name is a label; re-creating the families resets their values. */
  ensureTags(names: Iterable<string>): void {
    const missing = [...names].filter(
      (n) => !this.#extra.includes(n) && !(HTTP_LABELS as readonly string[]).includes(n),
    );
    if (missing.length === 0) return;
    this.#extra = [...this.#extra, ...missing].sort();
    this.registry.clear();
    this.#family = this.#create();
  }

  #create(): Family {
    const http = [...HTTP_LABELS, ...this.#extra];
    const tcp = [...PEER_LABELS, ...this.#extra];
    const registers = [this.registry];
    return {
      requests: new Counter({ name: "istio_requests_total", help: "Requests handled", labelNames: http, registers }),
      duration: new Histogram({
        name: "istio_request_duration_milliseconds",
        help: "Request duration (ms)",
        labelNames: http,
        buckets: DURATION_BUCKETS,
        registers,
      }),
      requestBytes: new Histogram({
        name: "istio_request_bytes",
        help: "Request sizes (bytes)",
        labelNames: http,
        buckets: SIZE_BUCKETS,
        registers,
      }),
      responseBytes: new Histogram({
        name: "istio_response_bytes",
        help: "Response sizes (bytes)",
        labelNames: http,
        buckets: SIZE_BUCKETS,
        registers,
      }),
      tcpOpened: new Counter({
        name: "istio_tcp_connections_opened_total",
        help: "TCP streams opened",
        labelNames: tcp,
        registers,
      }),
      tcpClosed: new Counter({
        name: "istio_tcp_connections_closed_total",
        help: "TCP streams closed",
        labelNames: tcp,
        registers,
      }),
      tcpSent: new Counter({
        name: "istio_tcp_sent_bytes_total",
        help: "Bytes sent to the client",
        labelNames: tcp,
        registers,
      }),
      tcpReceived: new Counter({
        name: "istio_tcp_received_bytes_total",
        help: "Bytes received from the client",
        labelNames: tcp,
        registers,
      }),
    };
  }

  /** One finished HTTP request. */
  recordRequest(
    settings: TelemetrySettings,
    labels: Labels,
    attrs: Attributes,
    m: { durationMs: number; requestBytes: number; responseBytes: number },
  ): void {
    const f = this.#family;
    const s = settings.metrics;
    if (s.REQUEST_COUNT.enabled) f.requests.inc(this.#labels(settings, "REQUEST_COUNT", labels, attrs));
    if (s.REQUEST_DURATION.enabled)
      f.duration.observe(this.#labels(settings, "REQUEST_DURATION", labels, attrs), m.durationMs);
    if (s.REQUEST_SIZE.enabled)
      f.requestBytes.observe(this.#labels(settings, "REQUEST_SIZE", labels, attrs), m.requestBytes);
    if (s.RESPONSE_SIZE.enabled)
      f.responseBytes.observe(this.#labels(settings, "RESPONSE_SIZE", labels, attrs), m.responseBytes);
  }

  tcpOpened(settings: TelemetrySettings, labels: Labels, attrs: Attributes): void {
    if (settings.metrics.TCP_OPENED_CONNECTIONS.enabled)
      this.#family.tcpOpened.inc(this.#labels(settings, "TCP_OPENED_CONNECTIONS", labels, attrs));
  }

  tcpClosed(settings: TelemetrySettings, labels: Labels, attrs: Attributes, sent: number, received: number): void {
    const s = settings.metrics;
    if (s.TCP_CLOSED_CONNECTIONS.enabled)
      this.#family.tcpClosed.inc(this.#labels(settings, "TCP_CLOSED_CONNECTIONS", labels, attrs));
    if (s.TCP_SENT_BYTES.enabled)
      this.#family.tcpSent.inc(this.#labels(settings, "TCP_SENT_BYTES", labels, attrs), sent);
    if (s.TCP_RECEIVED_BYTES.enabled)
      this.#family.tcpReceived.inc(this.#labels(settings, "TCP_RECEIVED_BYTES", labels, attrs), received);
  }

  #labels(settings: TelemetrySettings, kind: MetricKind, base: Labels, attrs: Attributes): Labels {
    const tags = settings.metrics[kind].tags;
    if (tags.size === 0) return base;
    const out = { ...base };
    for (const [name, o] of tags) {
      if (o.operation === "REMOVE") out[name] = "";
      else {
        const v = o.value?.(attrs);
        out[name] = v === undefined ? "unknown" : String(v);
      }
    }
    return out;
  }

  /** Runs before each scrape: sources outside prom-client (Wasm plugins' metrics) register or refresh theirs. */
  onCollect(collect: () => void): () => void {
    this.#collectors.add(collect);
    return () => this.#collectors.delete(collect);
  }

  render(): Promise<string> {
    for (const c of this.#collectors) c();
    return this.registry.metrics();
  }
}
