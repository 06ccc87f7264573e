// Inbound HBONE (15008), after the HBONE server checked TLS and the CONNECT request (data-plane.md §3.2):
// validate the destination against this pod → resolve the port → L4 authorization with the peer identity (401)
// → connect to the app (503) → the server answers 200 and copies bytes. Admitted connections stay tracked so a
// policy change can close them.

import { isIP, type Socket } from "node:net";
import { AmbitError } from "../../errors.js";
import type { Decision } from "../../policy/decision.js";
import type { L4Connection } from "../../policy/request.js";
import type { AcceptedTunnel, TunnelInfo, TunnelRejection } from "../hbone/server.js";
import type { ProxyState } from "../state/proxy-state.js";
import type { ServiceView, WorkloadView } from "../state/types.js";
import type { ProxyContext } from "./context.js";
import { baggageFor, peerFromBaggage, peerInfo, serviceInfo } from "./peers.js";
import { ConnectionRecord } from "./record.js";
import { ZTUNNEL_PORTS } from "./route.js";

/** `::ffff:10.0.0.1` → `10.0.0.1`: sockets on dual-stack listeners report mapped IPv4. */
export function plainIp(ip: string | undefined): string {
  return ip?.startsWith("::ffff:") ? ip.slice(7) : (ip ?? "");
}

/** Istio's wording for a refused connection (user-needs.md §2.3). */
export function rejectionText(d: Decision): string {
  return d.policy
    ? `explicitly denied by: ${d.policy.namespace}/${d.policy.name}`
    : "allow policies exist, but none allowed";
}

/** The L4 question for a connection to `local`; asked again, with current state, on every policy change. */
export function l4Connection(local: WorkloadView, principal: string | null, srcIp: string, dst: string, port: number) {
  const conn: L4Connection = {
    source: { principal, ip: srcIp },
    destination: { ip: dst, port, namespace: local.namespace, policies: local.authorizationPolicies },
  };
  return conn;
}

/** destination_service on inbound is a guess: the `Forwarded host=` service if this pod backs it, else the first
 * service whose target port matches (ztunnel's guess_inbound_service). */
export function guessService(
  state: ProxyState,
  local: WorkloadView,
  port: number,
  forwarded: string | undefined,
): ServiceView | undefined {
  const host = /;\s*host=([^;,\s]+)/.exec(forwarded ?? "")?.[1];
  const keys = Object.keys(local.services);
  if (host) {
    const key = keys.find((k) => k.slice(k.indexOf("/") + 1) === host);
    if (key) return state.service(key);
  }
  for (const key of keys) {
    const svc = state.service(key);
    const mapped = local.services[key]!.some((p) => (p.targetPort || p.servicePort) === port);
    if (svc && (mapped || svc.ports.some((p) => p.targetPort === port))) return svc;
  }
  return undefined;
}

/** Resolves the CONNECT target to an app address in this pod, or the rejection the server must answer. */
function resolveTarget(local: WorkloadView, info: TunnelInfo): { ip: string; port: number } | TunnelRejection {
  const arrived = plainIp(info.localAddress);
  const { host, port } = info.target;
  if (isIP(host)) {
    // The authority must name the address the tunnel arrived on (ztunnel's IPMismatch).
    if (host !== arrived) return { status: 400, reason: `IPMismatch: ${host} is not ${arrived}` };
    return { ip: host, port };
  }
  const key = Object.keys(local.services).find((k) => k.slice(k.indexOf("/") + 1) === host);
  const mapped = key ? local.services[key]!.find((p) => p.servicePort === port) : undefined;
  if (!mapped) return { status: 503, reason: `cannot resolve service port ${host}:${port} on ${local.name}` };
  return { ip: local.addresses[0] ?? arrived, port: mapped.targetPort || port };
}

export function inboundConnector(
  ctx: ProxyContext,
  uid: string,
): (info: TunnelInfo) => Promise<AcceptedTunnel | TunnelRejection> {
  return async (info) => {
    const local = await ctx.localWorkload(uid);
    if (!local) return { status: 503, reason: `unknown local workload ${uid}` };
    const target = resolveTarget(local, info);
    if ("status" in target) return target;
    if (ZTUNNEL_PORTS.has(target.port)) return { status: 400, reason: `SelfCall: port ${target.port} is ztunnel's` };
    const srcIp = plainIp(info.remoteAddress);
    const srcWorkload = ctx.state.workloadByIp(srcIp, local.network);
    const forwarded = info.headers.forwarded;
    const record = new ConnectionRecord(ctx.metrics, ctx.log, {
      reporter: "destination",
      source: srcWorkload ? peerInfo(srcWorkload, info.peer) : peerFromBaggage(info.headers.baggage, info.peer),
      destination: peerInfo(local),
      service: serviceInfo(
        guessService(ctx.state, local, target.port, Array.isArray(forwarded) ? forwarded[0] : forwarded),
      ),
      security: "mutual_tls",
      srcAddr: `${srcIp}:${info.remotePort}`,
      dstAddr: `${target.ip}:${target.port}`,
      hboneAddr: `${info.target.host}:${info.target.port}`,
    });
    const decide = () =>
      ctx.state
        .authz()
        .evaluate(l4Connection(ctx.state.workload(uid) ?? local, info.peer, srcIp, target.ip, target.port));
    const d = decide();
    if (!d.allowed) {
      record.fail("DENY", `policy rejection: ${rejectionText(d)}`);
      record.finish({ received: 0, sent: 0 });
      return { status: 401, reason: rejectionText(d) };
    }
    let app: Socket;
    try {
      app = await ctx.connectApp({ address: target.ip, port: target.port }, { address: srcIp, port: info.remotePort });
    } catch (e) {
      record.fail("CONNECT", e instanceof Error ? e.message : String(e));
      record.finish({ received: 0, sent: 0 });
      return { status: 503, reason: `upstream connect failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    const tracked = ctx.tracker.add({
      workloadUid: uid,
      direction: "inbound",
      local: `${target.ip}:${target.port}`,
      remote: `${srcIp}:${info.remotePort}`,
      remoteTarget: `${info.target.host}:${info.target.port}`,
      protocol: "HBONE",
      openedAt: Date.now(),
      stillAllowed: () => decide().allowed,
      close(reason) {
        record.fail("DENY", reason);
        // With an error, so the tunnel is reset (not ended cleanly) and the client sees the connection cut.
        app.destroy(new AmbitError("AMBIT_ZTUNNEL_POLICY_CLOSED", reason));
      },
    });
    app.once("close", () => {
      ctx.tracker.remove(tracked);
      // Request bytes went to the app (received), response bytes came from it (sent).
      record.finish({ received: app.bytesWritten, sent: app.bytesRead });
    });
    // ENABLE_RESPONSE_BAGGAGE (on by default): the 200 describes the destination workload.
    return { upstream: app, responseHeaders: { baggage: baggageFor(local) } };
  };
}
