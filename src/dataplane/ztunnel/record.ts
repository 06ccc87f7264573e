// One connection's telemetry: counted as opened when it starts, then once at the end with its bytes, flags and
// outcome, which also writes the access-log line (data-plane.md §6).

import { type AccessLogEntry, type AccessLogSink, formatAccessLog } from "../telemetry/access-log.js";
import {
  type PeerInfo,
  type Reporter,
  type ServiceInfo,
  type TrafficLabels,
  trafficLabels,
} from "../telemetry/labels.js";
import type { TcpBytes, TcpMetrics } from "../telemetry/tcp-metrics.js";

export interface RecordInit {
  reporter: Exclude<Reporter, "waypoint">;
  source: PeerInfo;
  destination: PeerInfo;
  service: ServiceInfo | undefined;
  security: "mutual_tls" | "unknown";
  srcAddr: string;
  /** The L4 next hop (`ip:15008`, a waypoint, or the app). */
  dstAddr: string;
  hboneAddr?: string;
}

export class ConnectionRecord {
  readonly #metrics: TcpMetrics;
  readonly #log: AccessLogSink;
  readonly #init: RecordInit;
  readonly #start = performance.now();
  /** Labels at open (flags "-"); reused at close unless the connection failed. */
  readonly #openLabels: TrafficLabels;
  #flags = "-";
  #error: string | undefined;
  #done = false;

  constructor(metrics: TcpMetrics, log: AccessLogSink, init: RecordInit) {
    this.#metrics = metrics;
    this.#log = log;
    this.#init = init;
    this.#openLabels = this.#labels();
    metrics.opened(this.#openLabels);
  }

  /** Marks the connection failed; the first failure wins. */
  fail(flag: string, error: string): void {
    if (this.#error !== undefined) return;
    this.#flags = flag;
    this.#error = error;
  }

  get failed(): boolean {
    return this.#error !== undefined;
  }

  finish(bytes: TcpBytes): void {
    if (this.#done) return;
    this.#done = true;
    this.#metrics.closed(this.#flags === "-" ? this.#openLabels : this.#labels(), bytes);
    const i = this.#init;
    const outbound = i.reporter === "source";
    const entry: AccessLogEntry = {
      level: this.#error === undefined ? "info" : "error",
      message: "connection complete",
      src: {
        addr: i.srcAddr,
        workload: i.source.workload,
        namespace: i.source.namespace,
        identity: i.security === "mutual_tls" ? i.source.principal : undefined,
        cluster: i.source.cluster,
      },
      dst: {
        addr: i.dstAddr,
        hboneAddr: i.hboneAddr,
        service: i.service?.hostname,
        workload: i.destination.workload,
        namespace: i.destination.namespace,
        identity: i.security === "mutual_tls" ? i.destination.principal : undefined,
        cluster: i.destination.cluster,
      },
      direction: outbound ? "outbound" : "inbound",
      // Metrics count request bytes as "received" for both reporters; the log speaks from the proxy's side.
      bytesSent: outbound ? bytes.received : bytes.sent,
      bytesRecv: outbound ? bytes.sent : bytes.received,
      durationMs: performance.now() - this.#start,
      error: this.#error,
    };
    this.#log(formatAccessLog(entry));
  }

  #labels(): TrafficLabels {
    const i = this.#init;
    return trafficLabels({
      reporter: i.reporter,
      source: i.source,
      destination: i.destination,
      service: i.service,
      protocol: "tcp",
      responseFlags: this.#flags,
      security: i.security,
    });
  }
}
