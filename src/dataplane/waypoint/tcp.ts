// Tunnels that carry no HTTP: L4 policy only (HTTP-only fields follow policy.md §1.8: an ALLOW rule that needs
// them is dropped, a DENY rule ignores them), then the bytes go to an endpoint with half-close kept, counted in
// the istio_tcp_* metrics.

import type { Duplex } from "node:stream";
import { tryParseSpiffeId } from "../../identity/spiffe.js";
import type { TunnelInfo } from "../hbone/server.js";
import { splice } from "../hbone/splice.js";
import type { EndpointHealthTable, LbPolicy, OutlierOptions } from "./balancer.js";
import { Balancer } from "./balancer.js";
import type { Attributes } from "./expr.js";
import { destinationLabels, sourceLabels } from "./labels.js";
import type { Labels, WaypointMetrics } from "./metrics.js";
import type { Destination, WaypointState } from "./state.js";
import type { Upstreams } from "./upstream.js";

export interface TcpOptions {
  upstreams: Upstreams;
  metrics: WaypointMetrics;
  health: EndpointHealthTable;
  lbPolicy: LbPolicy;
  outlier: OutlierOptions;
}

/** Ends a tunnel without a reset (feasibility.md §2: resets trip Node's rapid-reset guard). */
export function closeTunnel(stream: Duplex): void {
  stream.on("error", () => {});
  stream.end();
  stream.resume();
}

export async function proxyTcp(
  stream: Duplex,
  tunnel: TunnelInfo,
  dest: Destination,
  state: WaypointState,
  o: TcpOptions,
): Promise<void> {
  const decision = state.authz.evaluate({
    source: { principal: tunnel.peer, ip: tunnel.remoteAddress, namespace: tryParseSpiffeId(tunnel.peer)?.namespace },
    destination: {
      ip: tunnel.target.host,
      port: tunnel.target.port,
      namespace: dest.kind === "service" ? dest.service.service.namespace : dest.workload.namespace,
      service: dest.kind === "service" ? dest.service.key : undefined,
    },
    http: null,
    jwt: null,
  });
  const balancer =
    dest.kind === "service" ? dest.service.balancer : new Balancer([dest.workload], o.health, o.lbPolicy, o.outlier);
  const port = dest.kind === "service" ? dest.port.targetPort : dest.port;
  const settings = dest.kind === "service" ? dest.service.telemetry : state.defaultTelemetry;
  const ep = decision.allowed ? balancer.pick() : undefined;
  const labels: Labels = {
    reporter: "waypoint",
    ...sourceLabels(tunnel, state),
    ...destinationLabels(dest, ep),
    request_protocol: "tcp",
    response_flags: decision.allowed ? (ep ? "-" : "UH") : "DENY",
    connection_security_policy: "mutual_tls",
  };
  const attrs: Attributes = () => undefined;
  o.metrics.tcpOpened(settings, labels, attrs);
  if (!ep) {
    o.metrics.tcpClosed(settings, labels, attrs, 0, 0);
    closeTunnel(stream);
    return;
  }
  balancer.begin(ep);
  let upstream: Duplex;
  try {
    upstream = await o.upstreams.connect(ep, port);
  } catch {
    balancer.end(ep, "connect-failure");
    o.metrics.tcpClosed(settings, { ...labels, response_flags: "UF" }, attrs, 0, 0);
    closeTunnel(stream);
    return;
  }
  let received = 0;
  let sent = 0;
  stream.on("data", (c: Buffer) => {
    received += c.length;
  });
  upstream.on("data", (c: Buffer) => {
    sent += c.length;
  });
  const endedEarly = stream.readableEnded;
  const done = splice(stream, upstream);
  // Detection may already have read the client's EOF (an empty stream); pipe would not pass that on.
  if (endedEarly) upstream.end();
  await done;
  balancer.end(ep, 200);
  o.metrics.tcpClosed(settings, labels, attrs, sent, received);
}
