// What the data plane keeps of an Address: plain objects with textual IPs, shaped for ztunnel's lookups
// (by IP, by uid, by `namespace/hostname`, and a workload's service memberships and policies).
import { DEFAULT_TRUST_DOMAIN } from "../../api/labels.js";
import { AmbitError } from "../../errors.js";
import {
  type Address,
  type GatewayAddress,
  NetworkMode,
  type Service,
  TunnelProtocol,
  type Workload,
  WorkloadStatus,
  WorkloadType,
} from "../gen/istio/workload/workload_pb.js";
import { bytesToIp } from "./ip-bytes.js";

export type GatewayView =
  | { kind: "hostname"; namespace: string; hostname: string; hboneMtlsPort: number }
  | { kind: "address"; network: string; address: string; hboneMtlsPort: number };

export interface PortView {
  servicePort: number;
  /** 0: a named target port the endpoint's own map did not resolve. */
  targetPort: number;
}

export interface WorkloadView {
  uid: string;
  name: string;
  namespace: string;
  addresses: string[];
  /** Set for DNS-addressed workloads instead of `addresses`. */
  hostname: string;
  network: string;
  protocol: "HBONE" | "NONE" | "LEGACY_ISTIO_MTLS";
  trustDomain: string;
  serviceAccount: string;
  /** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`: what the workload's certificate must carry. */
  identity: string;
  node: string;
  clusterId: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadName: string;
  workloadType: "DEPLOYMENT" | "CRONJOB" | "POD" | "JOB";
  waypoint: GatewayView | null;
  /** `namespace/hostname` → the ports this workload serves for that service. */
  services: Record<string, PortView[]>;
  /** Selector-scoped policies (`namespace/name`); NAMESPACE and GLOBAL ones apply by scope. */
  authorizationPolicies: string[];
  healthy: boolean;
  /** Host-network workloads share their IP: never look them up by address. */
  hostNetwork: boolean;
}

export interface ServiceView {
  /** The resource name: `namespace/hostname`. */
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  vips: Array<{ network: string; address: string }>;
  ports: PortView[];
  waypoint: GatewayView | null;
  subjectAltNames: string[];
}

export function protoToGatewayView(g: GatewayAddress | undefined): GatewayView | null {
  if (g === undefined) return null;
  switch (g.destination.case) {
    case "hostname":
      return {
        kind: "hostname",
        namespace: g.destination.value.namespace,
        hostname: g.destination.value.hostname,
        hboneMtlsPort: g.hboneMtlsPort,
      };
    case "address":
      return {
        kind: "address",
        network: g.destination.value.network,
        address: bytesToIp(g.destination.value.address),
        hboneMtlsPort: g.hboneMtlsPort,
      };
    default:
      return null;
  }
}

const PROTOCOLS: Record<TunnelProtocol, WorkloadView["protocol"]> = {
  [TunnelProtocol.NONE]: "NONE",
  [TunnelProtocol.HBONE]: "HBONE",
  [TunnelProtocol.LEGACY_ISTIO_MTLS]: "LEGACY_ISTIO_MTLS",
};

const TYPES: Record<WorkloadType, WorkloadView["workloadType"]> = {
  [WorkloadType.DEPLOYMENT]: "DEPLOYMENT",
  [WorkloadType.CRONJOB]: "CRONJOB",
  [WorkloadType.POD]: "POD",
  [WorkloadType.JOB]: "JOB",
};

export function protoToWorkloadView(w: Workload): WorkloadView {
  // Elided fields take the defaults ztunnel applies (data-plane.md §4.2).
  const trustDomain = w.trustDomain || DEFAULT_TRUST_DOMAIN;
  const serviceAccount = w.serviceAccount || "default";
  const services: Record<string, PortView[]> = {};
  for (const [key, list] of Object.entries(w.services)) {
    services[key] = list.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort }));
  }
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map(bytesToIp),
    hostname: w.hostname,
    network: w.network,
    protocol: PROTOCOLS[w.tunnelProtocol] ?? "NONE",
    trustDomain,
    serviceAccount,
    identity: `spiffe://${trustDomain}/ns/${w.namespace}/sa/${serviceAccount}`,
    node: w.node,
    clusterId: w.clusterId,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadName: w.workloadName,
    workloadType: TYPES[w.workloadType] ?? "POD",
    waypoint: protoToGatewayView(w.waypoint),
    services,
    authorizationPolicies: [...w.authorizationPolicies],
    healthy: w.status === WorkloadStatus.HEALTHY,
    hostNetwork: w.networkMode === NetworkMode.HOST_NETWORK,
  };
}

export function protoToServiceView(s: Service): ServiceView {
  return {
    key: `${s.namespace}/${s.hostname}`,
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.addresses.map((a) => ({ network: a.network, address: bytesToIp(a.address) })),
    ports: s.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort })),
    waypoint: protoToGatewayView(s.waypoint),
    subjectAltNames: [...s.subjectAltNames],
  };
}

export type AddressView = { kind: "workload"; workload: WorkloadView } | { kind: "service"; service: ServiceView };

export function protoToAddressView(a: Address): AddressView {
  switch (a.type.case) {
    case "workload":
      return { kind: "workload", workload: protoToWorkloadView(a.type.value) };
    case "service":
      return { kind: "service", service: protoToServiceView(a.type.value) };
    default:
      throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", "Address holds neither a workload nor a service");
  }
}
