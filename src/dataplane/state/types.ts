// The proxy's plain view of the mesh as received over xDS (data-plane.md §4.2): what the proxies ask about.
// Field meanings follow Istio's workload API; defaults are applied when a view is made, never at lookup time.

import type { L4Policy } from "../../policy/ztunnel-policy.js";

export type { L4Policy };

/** Where a waypoint or network gateway is: a Service hostname (preferred) or an IP, plus its HBONE port. */
export type GatewayRef =
  | { hostname: { namespace: string; hostname: string }; hboneMtlsPort: number }
  | { address: { network: string; address: string }; hboneMtlsPort: number };

export interface PortMapping {
  servicePort: number;
  /** 0: not given (use the service's own mapping). */
  targetPort: number;
}

export interface WorkloadView {
  uid: string;
  name: string;
  namespace: string;
  /** Textual IPs. */
  addresses: string[];
  network: string;
  /** HBONE: captured by a ztunnel; NONE: outside the mesh, reached with plain TCP. */
  tunnelProtocol: "HBONE" | "NONE";
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayRef;
  node: string;
  clusterId: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadName: string;
  workloadType: "deployment" | "cronjob" | "pod" | "job";
  /** `ns/hostname` → port mapping: Service membership and the per-endpoint target ports. */
  services: Record<string, PortMapping[]>;
  /** `ns/name` of selector-scoped policies attached to this workload. */
  authorizationPolicies: string[];
  status: "HEALTHY" | "UNHEALTHY";
  /** Load-balancing weight, default 1. */
  capacity: number;
}

export interface ServiceView {
  name: string;
  namespace: string;
  hostname: string;
  /** VIPs; empty for headless services. */
  addresses: Array<{ network: string; address: string }>;
  ports: PortMapping[];
  subjectAltNames: string[];
  waypoint?: GatewayRef;
  loadBalancing?: {
    mode: "UNSPECIFIED" | "STRICT" | "FAILOVER" | "PASSTHROUGH";
    healthPolicy: "ONLY_HEALTHY" | "ALLOW_ALL";
  };
}

/** `ns/hostname`, the name Istio gives a Service resource. */
export function serviceKey(s: Pick<ServiceView, "namespace" | "hostname">): string {
  return `${s.namespace}/${s.hostname}`;
}

export function policyKey(p: Pick<L4Policy, "namespace" | "name">): string {
  return `${p.namespace}/${p.name}`;
}

/** The workload's SPIFFE identity. */
export function workloadIdentity(w: Pick<WorkloadView, "trustDomain" | "namespace" | "serviceAccount">): string {
  return `spiffe://${w.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
}

/** A view with Istio's defaults for whatever the caller leaves out (tests and converters). */
export function workloadView(
  w: Pick<WorkloadView, "uid" | "name" | "namespace"> & Partial<WorkloadView>,
): WorkloadView {
  return {
    addresses: [],
    network: "",
    tunnelProtocol: "HBONE",
    trustDomain: "cluster.local",
    serviceAccount: "default",
    node: "",
    clusterId: "",
    canonicalName: w.name,
    canonicalRevision: "latest",
    workloadName: w.name,
    workloadType: "deployment",
    services: {},
    authorizationPolicies: [],
    status: "HEALTHY",
    capacity: 1,
    ...w,
  };
}

export function serviceView(s: Pick<ServiceView, "name" | "namespace"> & Partial<ServiceView>): ServiceView {
  return {
    hostname: `${s.name}.${s.namespace}.svc.cluster.local`,
    addresses: [],
    ports: [],
    subjectAltNames: [],
    ...s,
  };
}
