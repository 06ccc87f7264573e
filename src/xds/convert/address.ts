// Mesh-model workloads and services → Istio's `istio.workload.Address` (spec data-plane.md §4.2), filled the way
// istiod fills them. The inverse decoders live in address-views.ts.
import { create } from "@bufbuild/protobuf";
import { DEFAULT_TRUST_DOMAIN } from "../../api/labels.js";
import type { ServiceState, Waypoint, Workload } from "../../mesh/types.js";
import { isIP } from "../../policy/ip.js";
import {
  type Address,
  AddressSchema,
  type GatewayAddress,
  GatewayAddressSchema,
  NetworkAddressSchema,
  NetworkMode,
  type PortList,
  PortListSchema,
  PortSchema,
  type Service,
  ServiceSchema,
  TunnelProtocol,
  type Workload as WorkloadProto,
  WorkloadSchema,
  WorkloadStatus,
  WorkloadType,
} from "../gen/istio/workload/workload_pb.js";
import { ipToBytes } from "./ip-bytes.js";

/** ztunnel's HBONE port on waypoints (data-plane.md §2.1). */
export const HBONE_MTLS_PORT = 15008;
/** istiod's cluster id when none is configured. */
export const DEFAULT_CLUSTER_ID = "Kubernetes";

export interface AddressContext {
  /** Cluster id used in uids and `cluster_id` (istiod's default: "Kubernetes"). */
  clusterId: string;
  /** Network name; "" for the default network. */
  network: string;
  trustDomain: string;
}

export interface WorkloadContext extends AddressContext {
  /** Services whose selector picks this workload (the per-endpoint port map defines membership). */
  services: readonly ServiceState[];
  /** `ns/name` of the selector-scoped policies (user and PeerAuthentication-converted) that select it. */
  authorizationPolicies: readonly string[];
  /** The workload's named container ports, to resolve a Service's named targetPort; 0 when unknown. */
  namedPorts?: Readonly<Record<string, number>>;
}

export interface ServiceContext extends AddressContext {
  /** ServiceEntry `subjectAltNames`; empty for Kubernetes Services. */
  subjectAltNames?: readonly string[];
}

/** istiod's uid forms: `<cluster>//Pod/<ns>/<name>`, `<cluster>/networking.istio.io/WorkloadEntry/<ns>/<name>`, and
 *  `<cluster>/networking.istio.io/ServiceEntry/<ns>/<serviceentry>/<address>` for inline endpoints. */
export function workloadUid(
  w: Pick<Workload, "kind" | "namespace" | "name" | "serviceEntry" | "ip">,
  clusterId: string,
): string {
  switch (w.kind) {
    case "Pod":
      return `${clusterId}//Pod/${w.namespace}/${w.name}`;
    case "WorkloadEntry":
      return `${clusterId}/networking.istio.io/WorkloadEntry/${w.namespace}/${w.name}`;
    default: {
      const at = w.name.lastIndexOf("@");
      const endpoint = at >= 0 ? w.name.slice(at + 1) : (w.ip ?? w.name);
      return `${clusterId}/networking.istio.io/ServiceEntry/${w.namespace}/${w.serviceEntry ?? w.name}/${endpoint}`;
    }
  }
}

/** Canonical service name and revision, by the label precedence istiod and the sidecar injector use. */
export function canonicalName(labels: Readonly<Record<string, string>>, fallback: string): string {
  return labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels.app ?? fallback;
}

export function canonicalRevision(labels: Readonly<Record<string, string>>): string {
  return (
    labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels.version ?? "latest"
  );
}

/** A waypoint's address as ztunnel reaches it: the hostname form when it has one, else its IP. */
export function gatewayAddress(wp: Waypoint, network: string): GatewayAddress | undefined {
  if (wp.address === null) return undefined;
  const destination = isIP(wp.address)
    ? { case: "address" as const, value: create(NetworkAddressSchema, { network, address: ipToBytes(wp.address) }) }
    : { case: "hostname" as const, value: { namespace: wp.namespace, hostname: wp.address } };
  return create(GatewayAddressSchema, { destination, hboneMtlsPort: HBONE_MTLS_PORT });
}

function servicePorts(s: ServiceState, namedPorts: Readonly<Record<string, number>> | undefined): PortList {
  return create(PortListSchema, {
    ports: s.ports.map((p) =>
      create(PortSchema, { servicePort: p.port, targetPort: targetPortOf(p.port, p.targetPort, namedPorts) }),
    ),
  });
}

function targetPortOf(
  port: number,
  target: number | string | undefined,
  namedPorts: Readonly<Record<string, number>> | undefined,
): number {
  if (target === undefined) return port;
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  return namedPorts?.[target] ?? 0;
}

export function workloadToProto(w: Workload, ctx: WorkloadContext): WorkloadProto {
  const services: Record<string, PortList> = {};
  for (const s of ctx.services) {
    for (const host of s.hostnames) services[`${s.namespace}/${host}`] = servicePorts(s, ctx.namedPorts);
  }
  const ipAddress = w.ip !== undefined && isIP(w.ip);
  const waypoint = w.binding.waypoint ? gatewayAddress(w.binding.waypoint, ctx.network) : undefined;
  const out = create(WorkloadSchema, {
    uid: workloadUid(w, ctx.clusterId),
    name: w.name,
    namespace: w.namespace,
    addresses: ipAddress ? [ipToBytes(w.ip ?? "")] : [],
    hostname: !ipAddress && w.ip !== undefined ? w.ip : "",
    network: ctx.network,
    tunnelProtocol: w.captured ? TunnelProtocol.HBONE : TunnelProtocol.NONE,
    // istiod elides the default trust domain.
    trustDomain: ctx.trustDomain === DEFAULT_TRUST_DOMAIN ? "" : ctx.trustDomain,
    serviceAccount: w.serviceAccount,
    node: w.node ?? "",
    canonicalName: canonicalName(w.labels, w.owner ?? w.name),
    canonicalRevision: canonicalRevision(w.labels),
    workloadType: w.owner !== undefined ? WorkloadType.DEPLOYMENT : WorkloadType.POD,
    workloadName: w.owner ?? w.name,
    services,
    authorizationPolicies: [...ctx.authorizationPolicies],
    status: WorkloadStatus.HEALTHY,
    clusterId: ctx.clusterId,
    networkMode: w.hostNetwork ? NetworkMode.HOST_NETWORK : NetworkMode.STANDARD,
  });
  if (waypoint) out.waypoint = waypoint;
  return out;
}

/** One Service per hostname, as istiod emits a ServiceEntry with several hosts; `hostname` defaults to the first. */
export function serviceToProto(s: ServiceState, ctx: ServiceContext, hostname: string = s.hostnames[0] ?? ""): Service {
  const out = create(ServiceSchema, {
    name: s.name,
    namespace: s.namespace,
    hostname,
    addresses: s.vips
      .filter(isIP)
      .map((vip) => create(NetworkAddressSchema, { network: ctx.network, address: ipToBytes(vip) })),
    ports: s.ports.map((p) =>
      create(PortSchema, { servicePort: p.port, targetPort: targetPortOf(p.port, p.targetPort, undefined) }),
    ),
    subjectAltNames: [...(ctx.subjectAltNames ?? [])],
  });
  const waypoint = s.binding.waypoint ? gatewayAddress(s.binding.waypoint, ctx.network) : undefined;
  if (waypoint) out.waypoint = waypoint;
  return out;
}

export function workloadAddress(w: WorkloadProto): Address {
  return create(AddressSchema, { type: { case: "workload", value: w } });
}

export function serviceAddress(s: Service): Address {
  return create(AddressSchema, { type: { case: "service", value: s } });
}
