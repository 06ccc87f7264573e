// The outbound routing decision, exactly in ztunnel's order (data-plane.md §3.1): loop guard → service waypoint →
// service endpoints (fail closed when none) → pod IP → workload waypoint → HBONE or plain TCP → passthrough.
// Pure: it asks the state and returns where to send the bytes; the caller moves them.

import { isIP } from "node:net";
import type { ProxyState } from "../state/proxy-state.js";
import { type ServiceView, serviceKey, type WorkloadView, workloadIdentity } from "../state/types.js";

export const ZTUNNEL_PORTS: ReadonlySet<number> = new Set([15001, 15006, 15008]);

export interface Destination {
  address: string;
  port: number;
}

export type OutboundRoute =
  | {
      kind: "hbone";
      /** Where the HBONE connection goes: `ip:port`. */
      address: string;
      /** The CONNECT `:authority`. */
      authority: string;
      expectedIdentities: string[];
      /** The destination pod (direct) or the waypoint pod. */
      destination: WorkloadView | undefined;
      service: ServiceView | undefined;
      viaWaypoint: boolean;
    }
  | { kind: "tcp"; host: string; port: number; destination: WorkloadView; service: ServiceView | undefined }
  | { kind: "passthrough"; host: string; port: number }
  | { kind: "refuse"; reason: string };

/** Chooses one of several candidates for a key (round robin in the ztunnel). */
export type Picker = <T>(key: string, candidates: readonly T[]) => T;

export interface RouteOptions {
  /** The port pods accept HBONE on; 15008 except in loopback tests. */
  hbonePort: number;
}

const authorityOf = (host: string, port: number) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`);

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip.startsWith("::ffff:127.");
}

export function routeOutbound(
  state: ProxyState,
  source: WorkloadView,
  dst: Destination,
  pick: Picker,
  opts: RouteOptions,
): OutboundRoute {
  if (isLoopback(dst.address) && ZTUNNEL_PORTS.has(dst.port)) {
    return { kind: "refuse", reason: `refusing a connection to ztunnel's own port ${dst.port}` };
  }
  const original = authorityOf(dst.address, dst.port);
  const service = state.serviceByVip(dst.address, source.network, source.namespace);
  if (service?.waypoint) {
    // The VIP is never load-balanced here: the waypoint does it, so it gets the original VIP:port.
    const endpoints = state.gatewayEndpoints(service.waypoint);
    if (endpoints.length === 0) {
      return { kind: "refuse", reason: `no healthy waypoint for service ${service.hostname}` };
    }
    const ep = pick(`waypoint/${serviceKey(service)}`, endpoints);
    return {
      kind: "hbone",
      address: authorityOf(ep.address, ep.port),
      authority: original,
      expectedIdentities: ep.identities,
      destination: ep.workload,
      service,
      viaWaypoint: true,
    };
  }
  let target: WorkloadView | undefined;
  let targetPort = dst.port;
  if (service) {
    if (service.loadBalancing?.mode === "PASSTHROUGH")
      return { kind: "passthrough", host: dst.address, port: dst.port };
    const port = service.ports.find((p) => p.servicePort === dst.port);
    if (!port) return { kind: "refuse", reason: `service ${service.hostname} has no port ${dst.port}` };
    const key = serviceKey(service);
    const allowAll = service.loadBalancing?.healthPolicy === "ALLOW_ALL";
    const healthy = state.endpoints(key).filter((w) => w.addresses.length > 0 && (allowAll || w.status === "HEALTHY"));
    if (healthy.length === 0) return { kind: "refuse", reason: `no healthy upstream for ${service.hostname}` };
    target = pick(`service/${key}/${dst.port}`, healthy);
    const mapped = target.services[key]?.find((p) => p.servicePort === dst.port)?.targetPort;
    targetPort = mapped || port.targetPort || dst.port;
  } else {
    target = state.workloadByIp(dst.address, source.network);
    if (!target) return { kind: "passthrough", host: dst.address, port: dst.port };
    if (target.waypoint && !isWaypointOf(state, source, target)) {
      const endpoints = state.gatewayEndpoints(target.waypoint);
      if (endpoints.length === 0) return { kind: "refuse", reason: `no healthy waypoint for workload ${target.name}` };
      const ep = pick(`waypoint/${target.uid}`, endpoints);
      return {
        kind: "hbone",
        address: authorityOf(ep.address, ep.port),
        authority: original,
        expectedIdentities: ep.identities,
        destination: ep.workload,
        service: undefined,
        viaWaypoint: true,
      };
    }
  }
  // Prefer the address the app dialed when it is the target's own (dual stack), else its first one.
  const ip = target.addresses.includes(dst.address) ? dst.address : target.addresses[0]!;
  if (target.tunnelProtocol === "NONE")
    return { kind: "tcp", host: ip, port: targetPort, destination: target, service };
  return {
    kind: "hbone",
    address: authorityOf(ip, opts.hbonePort),
    authority: authorityOf(ip, targetPort),
    expectedIdentities: [...(service?.subjectAltNames ?? []), workloadIdentity(target)],
    destination: target,
    service,
    viaWaypoint: false,
  };
}

/** ztunnel's check_from_waypoint: the source is the target's waypoint (same identity and one of its IPs). */
function isWaypointOf(state: ProxyState, source: WorkloadView, target: WorkloadView): boolean {
  if (!target.waypoint) return false;
  const id = workloadIdentity(source);
  return state
    .gatewayEndpoints(target.waypoint)
    .some((ep) => source.addresses.includes(ep.address) && ep.identities.includes(id));
}
