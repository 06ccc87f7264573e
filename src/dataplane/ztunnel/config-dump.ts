// `/config_dump` on the admin port: what this ztunnel holds, in the shape `istioctl ztunnel-config` reads
// (user-needs.md §2.2): workloads, services, policies, certificates (public parts only, never keys) and per-pod
// connections.

import { X509Certificate } from "node:crypto";
import type { CertificateManager } from "../../identity/cert-manager.js";
import type { ProxyState } from "../state/proxy-state.js";
import { type GatewayRef, type ServiceView, serviceKey, type WorkloadView } from "../state/types.js";
import type { TrackedConnection } from "./connections.js";

const titleCase = (s: string) =>
  s.charAt(0) +
  s
    .slice(1)
    .toLowerCase()
    .replace(/_(.)/g, (_m, c: string) => c.toUpperCase());

function gateway(ref: GatewayRef | undefined): unknown {
  if (!ref) return undefined;
  return "hostname" in ref
    ? { destination: `${ref.hostname.namespace}/${ref.hostname.hostname}`, hboneMtlsPort: ref.hboneMtlsPort }
    : { destination: `${ref.address.network}/${ref.address.address}`, hboneMtlsPort: ref.hboneMtlsPort };
}

function workloadJson(w: WorkloadView) {
  return {
    uid: w.uid,
    workloadIps: w.addresses,
    waypoint: gateway(w.waypoint),
    protocol: w.tunnelProtocol === "HBONE" ? "HBONE" : "TCP",
    name: w.name,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
    workloadName: w.workloadName,
    workloadType: w.workloadType,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    clusterId: w.clusterId,
    trustDomain: w.trustDomain,
    node: w.node,
    network: w.network,
    status: titleCase(w.status),
    capacity: w.capacity,
    services: w.services,
    authorizationPolicies: w.authorizationPolicies,
  };
}

function serviceJson(state: ProxyState, s: ServiceView) {
  const key = serviceKey(s);
  const endpoints: Record<string, unknown> = {};
  for (const w of state.endpoints(key)) {
    endpoints[w.uid] = {
      workloadUid: w.uid,
      service: key,
      address: w.addresses[0] ?? null,
      port: Object.fromEntries((w.services[key] ?? []).map((p) => [p.servicePort, p.targetPort])),
      status: titleCase(w.status),
    };
  }
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.addresses.map((a) => `${a.network}/${a.address}`),
    ports: Object.fromEntries(s.ports.map((p) => [p.servicePort, p.targetPort])),
    waypoint: gateway(s.waypoint),
    endpoints,
    subjectAltNames: s.subjectAltNames,
    loadBalancer: s.loadBalancing,
  };
}

function certificatesJson(certs: CertificateManager) {
  return certs.identities().map((identity) => {
    const c = certs.peek(identity);
    if (!c) return { identity, state: "Initializing", certChain: [] };
    const pems = [c.certChainPem, c.rootPem]
      .join("")
      .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
    return {
      identity,
      state: "Available",
      certChain: (pems ?? []).map((pem) => {
        const x = new X509Certificate(pem);
        return {
          serialNumber: x.serialNumber,
          validFrom: new Date(x.validFrom).toISOString(),
          expirationTime: new Date(x.validTo).toISOString(),
        };
      }),
    };
  });
}

export interface ConfigDumpInput {
  state: ProxyState;
  certificates: CertificateManager;
  pods: readonly string[];
  connections: readonly TrackedConnection[];
  config: Record<string, unknown>;
}

export function configDump(i: ConfigDumpInput) {
  const workloadState: Record<string, { state: string; connections: { inbound: unknown[]; outbound: unknown[] } }> = {};
  for (const uid of i.pods) workloadState[uid] = { state: "Up", connections: { inbound: [], outbound: [] } };
  for (const c of i.connections) {
    const entry = workloadState[c.workloadUid];
    if (!entry) continue;
    const row = {
      src: c.direction === "inbound" ? c.remote : c.local,
      originalDst: c.remoteTarget,
      actualDst: c.direction === "inbound" ? c.local : c.remote,
      protocol: c.protocol,
    };
    entry.connections[c.direction].push(row);
  }
  const policies = i.state.policies().map((p) => ({
    name: p.name,
    namespace: p.namespace,
    scope: titleCase(p.scope),
    action: titleCase(p.action),
    dryRun: p.dryRun,
    groups: p.groups,
  }));
  return {
    workloads: i.state.workloads().map(workloadJson),
    services: i.state.services().map((s) => serviceJson(i.state, s)),
    policies,
    certificates: certificatesJson(i.certificates),
    workloadState,
    config: i.config,
  };
}
