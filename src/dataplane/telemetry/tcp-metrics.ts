// The four stable TCP counters ztunnel exports, plus the unstable failure counter (data-plane.md §6), registered on
// a caller's prom-client Registry. Byte direction follows Istio's convention for both reporters: downstream →
// upstream is "received", upstream → downstream is "sent".

import { Counter, type Registry } from "prom-client";
import { TRAFFIC_LABEL_NAMES, type TrafficLabels } from "./labels.js";

export interface TcpBytes {
  /** Downstream → upstream (the request direction). */
  received: number;
  /** Upstream → downstream (the response direction). */
  sent: number;
}

export class TcpMetrics {
  readonly #opened: Counter<string>;
  readonly #closed: Counter<string>;
  readonly #received: Counter<string>;
  readonly #sent: Counter<string>;
  readonly #failed: Counter<string>;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: [...TRAFFIC_LABEL_NAMES], registers: [registry] });
    this.#opened = counter("istio_tcp_connections_opened_total", "The total number of TCP connections opened");
    this.#closed = counter("istio_tcp_connections_closed_total", "The total number of TCP connections closed");
    this.#received = counter("istio_tcp_received_bytes_total", "The size of total bytes received during request");
    this.#sent = counter("istio_tcp_sent_bytes_total", "The size of total bytes sent during response");
    this.#failed = counter("istio_tcp_connections_failed_total", "The total number of TCP connections that failed");
  }

  opened(labels: TrafficLabels): void {
    this.#opened.inc(labels);
  }

  /** The connection ended; `labels.response_flags` other than "-" also counts it as failed. */
  closed(labels: TrafficLabels, bytes: TcpBytes): void {
    this.#closed.inc(labels);
    // Zero-valued series are still created, so a scrape shows every connection's labels.
    this.#received.inc(labels, bytes.received);
    this.#sent.inc(labels, bytes.sent);
    if (labels.response_flags !== "-") this.#failed.inc(labels);
  }
}
