// stats phase: nothing to decide on the way in; when the exchange is over it records Istio's request metrics
// (reporter="waypoint") and, when a Telemetry turns it on, the access-log line.

import type { TunnelInfo } from "../../hbone/server.js";
import { accessLogLine } from "../access-log.js";
import type { Filter } from "../chain.js";
import { flagsText, type RequestContext } from "../context.js";
import { type Attributes, isTruthy, type Value } from "../expr.js";
import { destinationLabels, sourceLabels } from "../labels.js";
import type { Labels, WaypointMetrics } from "../metrics.js";

export interface StatsOptions {
  metrics: WaypointMetrics;
  accessLog: (line: string) => void;
}

/** CEL attributes for tag overrides and log filters (Envoy's attribute names). */
export function requestAttributes(ctx: RequestContext, durationMs: number): Attributes {
  return (path) => {
    const [a, b] = path;
    if (a === "request") {
      if (b === "host") return ctx.authority;
      if (b === "method") return ctx.method;
      if (b === "path") return ctx.path;
      if (b === "url_path") return ctx.path.split("?")[0];
      if (b === "protocol") return ctx.downstream.version;
      if (b === "headers") return ctx.downstream.req.headers as Value;
      if (b === "duration") return durationMs;
      if (b === "size") return ctx.requestBytes;
    } else if (a === "response") {
      if (b === "code") return ctx.responseCode;
      if (b === "grpc_status") return ctx.grpcStatus;
      if (b === "size") return ctx.responseBytes;
      if (b === "flags") return flagsText(ctx.flags);
    } else if (a === "source") {
      if (b === "address") return ctx.tunnel.remoteAddress;
      if (b === "port") return ctx.tunnel.remotePort;
      if (b === "principal") return ctx.tunnel.peer;
    } else if (a === "destination") {
      if (b === "address") return ctx.tunnel.target.host;
      if (b === "port") return ctx.tunnel.target.port;
    } else if (a === "connection" && b === "mtls") {
      return true;
    }
    return undefined;
  };
}

export function statsFilter(opts: StatsOptions): Filter {
  const sources = new WeakMap<TunnelInfo, Labels>();
  return {
    name: "stats",
    onRequest: () => undefined,
    onDone(ctx: RequestContext) {
      const durationMs = Number(process.hrtime.bigint() - ctx.startNs) / 1e6;
      const d = ctx.destination;
      const settings = d.kind === "service" ? d.service.telemetry : ctx.state.defaultTelemetry;
      let src = sources.get(ctx.tunnel);
      if (!src) {
        src = sourceLabels(ctx.tunnel, ctx.state);
        sources.set(ctx.tunnel, src);
      }
      const labels: Labels = {
        reporter: "waypoint",
        ...src,
        ...destinationLabels(d, ctx.endpoint),
        request_protocol: ctx.grpc ? "grpc" : "http",
        response_code: String(ctx.responseCode),
        grpc_response_status: ctx.grpcStatus ?? "",
        response_flags: flagsText(ctx.flags),
        connection_security_policy: "mutual_tls",
      };
      const attrs = requestAttributes(ctx, durationMs);
      opts.metrics.recordRequest(settings, labels, attrs, {
        durationMs,
        requestBytes: ctx.requestBytes,
        responseBytes: ctx.responseBytes,
      });
      const log = settings.accessLog;
      if (log.enabled && (!log.filter || isTruthy(log.filter(attrs))))
        opts.accessLog(accessLogLine(ctx, durationMs, undefined));
    },
  };
}
