// What telemetry says about a workload or service, and the `baggage` that carries the same facts across HBONE.

import type { CertificateManager, WorkloadCertificate } from "../../identity/cert-manager.js";
import { tryParseSpiffeId } from "../../identity/spiffe.js";
import { baggageHeader } from "../hbone/headers.js";
import type { CertSource } from "../hbone/tls.js";
import { type ServiceView, type WorkloadView, workloadIdentity } from "../state/types.js";
import type { PeerInfo, ServiceInfo } from "../telemetry/labels.js";

const namespaces = new Map<string, string | undefined>();

/** The namespace of a SPIFFE identity; memoized, since a node sees few distinct peers and this runs per connection. */
function namespaceOf(principal: string): string | undefined {
  if (namespaces.has(principal)) return namespaces.get(principal);
  if (namespaces.size >= 4096) namespaces.clear();
  const ns = tryParseSpiffeId(principal)?.namespace;
  namespaces.set(principal, ns);
  return ns;
}

/** ztunnel reports app/version as the canonical service/revision. */
export function peerInfo(w: WorkloadView | undefined, principal?: string): PeerInfo {
  if (!w) {
    const ns = principal ? namespaceOf(principal) : undefined;
    return { ...(principal ? { principal } : {}), ...(ns ? { namespace: ns } : {}) };
  }
  return {
    workload: w.workloadName,
    namespace: w.namespace,
    principal: principal ?? workloadIdentity(w),
    app: w.canonicalName,
    version: w.canonicalRevision,
    canonicalService: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    cluster: w.clusterId,
  };
}

export function serviceInfo(s: ServiceView | undefined): ServiceInfo | undefined {
  return s ? { hostname: s.hostname, name: s.name, namespace: s.namespace } : undefined;
}

export function baggageFor(w: WorkloadView): string {
  return baggageHeader({
    clusterName: w.clusterId,
    namespace: w.namespace,
    workloadKind: w.workloadType,
    workloadName: w.workloadName,
    serviceName: w.canonicalName,
    serviceVersion: w.canonicalRevision,
  });
}

/**
 * Peer facts from a `baggage` header. Used for source labels only when the source IP is not a known workload
 * (e.g. a loopback test where every pod dials from 127.0.0.1); the principal always comes from the certificate.
 */
export function peerFromBaggage(header: string | string[] | undefined, principal: string): PeerInfo {
  const out: PeerInfo = peerInfo(undefined, principal);
  const text = Array.isArray(header) ? header.join(",") : (header ?? "");
  for (const entry of text.split(",")) {
    const eq = entry.indexOf("=");
    if (eq < 0) continue;
    const k = entry.slice(0, eq).trim();
    const v = entry.slice(eq + 1).trim();
    if (k === "k8s.cluster.name") out.cluster = v;
    else if (k === "k8s.namespace.name") out.namespace = v;
    else if (/^k8s\.(deployment|cronjob|pod|job)\.name$/.test(k)) out.workload = v;
    else if (k === "service.name") out.canonicalService = out.app = v;
    else if (k === "service.version") out.canonicalRevision = out.version = v;
  }
  return out;
}

const sources = new WeakMap<WorkloadCertificate, CertSource>();

/** One CertSource per certificate, so the HBONE layer's per-source TLS context cache hits. */
/** What an HBONE listener serves for `identity`: the cached certificate, or the one being issued. */
export function servingSource(certs: CertificateManager, identity: string): CertSource | Promise<CertSource> {
  const cert = certs.peek(identity);
  return cert ? certSource(cert) : certs.get(identity).then(certSource);
}

export function certSource(cert: WorkloadCertificate): CertSource {
  let src = sources.get(cert);
  if (!src) {
    src = { key: cert.keyPem, cert: cert.certChainPem, ca: cert.rootPem };
    sources.set(cert, src);
  }
  return src;
}
