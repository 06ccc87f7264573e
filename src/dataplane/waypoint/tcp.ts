// Tunnels that carry no HTTP: L4 policy only (HTTP-only fields follow policy.md §1.8: an ALLOW rule that needs
// them is dropped, a DENY rule ignores them), then the bytes go to an endpoint with half-close kept, counted in
// the istio_tcp_* metrics. A config's TCP extension (NETWORK Wasm plugins) may carry the bytes of the connections it
// covers; the others keep the plain splice.

import type { Duplex } from "node:stream";
import { AmbitError } from "../../errors.js";
import { tryParseSpiffeId } from "../../identity/spiffe.js";
import type { WaypointL7Config } from "../../xds/waypoint-config.js";
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

/** What an extension of the TCP path (NETWORK Wasm plugins) does for one connection. */
export interface TcpSession {
  /** At accept, after L4 authorization and before connecting upstream; false: the client is reset. */
  start(client: Duplex): Promise<boolean>;
  /** Carries the bytes both ways in place of the plain splice; resolves when both sides are closed. */
  splice(client: Duplex, upstream: Duplex): Promise<void>;
  /** The connection ended before it reached upstream. */
  abort(): void;
}

export interface TcpExtension {
  /** A session for a connection it covers; undefined keeps the plain splice (no copies, no callbacks). */
  open(tunnel: TunnelInfo, dest: Destination): TcpSession | undefined;
}

// Keyed by the config object the waypoint hands its `extensions` hook, so connections use the extension of the
// config they were accepted under.
const extensions = new WeakMap<WaypointL7Config, TcpExtension>();

/** Set by whoever builds a config's extensions (WaypointWasm), before that config goes live. */
export function setTcpExtension(config: WaypointL7Config, extension: TcpExtension | undefined): void {
  if (extension) extensions.set(config, extension);
  else extensions.delete(config);
}

/**
 * Resets a tunnel (an extension closed the connection, as a TCP reset): RST_STREAM at once. `destroy` with an error
 * sends INTERNAL_ERROR; `close(code)` would first send END_STREAM, and a client that had already ended its side
 * would then see a clean close.
 */
export function resetTunnel(stream: Duplex): void {
  stream.on("error", () => {});
  stream.destroy(new AmbitError("AMBIT_WAYPOINT_TCP_RESET", "connection closed by an extension"));
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
  const session = ep ? extensions.get(state.config)?.open(tunnel, dest) : undefined;
  if (session && !(await session.start(stream))) {
    o.metrics.tcpClosed(settings, labels, attrs, 0, 0);
    resetTunnel(stream);
    return;
  }
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
    session?.abort();
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
  const done = session ? session.splice(stream, upstream) : splice(stream, upstream);
  // Detection may already have read the client's EOF (an empty stream); pipe would not pass that on (a session
  // hands it to its plugins itself).
  if (endedEarly && !session) upstream.end();
  await done;
  balancer.end(ep, 200);
  o.metrics.tcpClosed(settings, labels, attrs, sent, received);
}
