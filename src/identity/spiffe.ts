// SPIFFE identities as Istio uses them: exactly spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>
// (data-plane.md §1.2 "Identity format"). Anything else is not a mesh identity.

import { AmbitError } from "../errors.js";

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export const DEFAULT_TRUST_DOMAIN = "cluster.local";

const PREFIX = "spiffe://";
// SPIFFE trust domains: lowercase letters, digits, dots, dashes, underscores.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
// Namespace and service-account names are Kubernetes names; we accept the wider DNS-subdomain charset.
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function isValidTrustDomain(td: string): boolean {
  return td.length > 0 && td.length <= 255 && TRUST_DOMAIN.test(td);
}

/** Parses a SPIFFE id, or returns undefined when it is not a well-formed mesh identity. */
export function tryParseSpiffeId(uri: string): SpiffeId | undefined {
  if (!uri.startsWith(PREFIX)) return undefined;
  const parts = uri.slice(PREFIX.length).split("/");
  if (parts.length !== 5) return undefined;
  const [trustDomain, ns, namespace, sa, serviceAccount] = parts as [string, string, string, string, string];
  if (ns !== "ns" || sa !== "sa") return undefined;
  if (!isValidTrustDomain(trustDomain)) return undefined;
  if (!SEGMENT.test(namespace) || !SEGMENT.test(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}

export function parseSpiffeId(uri: string): SpiffeId {
  const id = tryParseSpiffeId(uri);
  if (!id) {
    throw new AmbitError(
      "AMBIT_IDENTITY_INVALID",
      `"${uri}" is not a mesh identity; expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  }
  return id;
}

export function formatSpiffeId(id: SpiffeId): string {
  if (!isValidTrustDomain(id.trustDomain) || !SEGMENT.test(id.namespace) || !SEGMENT.test(id.serviceAccount)) {
    throw new AmbitError("AMBIT_IDENTITY_INVALID", `cannot form a SPIFFE id from ${JSON.stringify(id)}`);
  }
  return `${PREFIX}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * URI SANs from Node's `subjectaltname` string ("DNS:a, URI:spiffe://..."), in certificate order.
 * Node escapes values containing commas, so a plain split is safe for SPIFFE ids (which cannot contain one).
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(", ")
    .filter((s) => s.startsWith("URI:"))
    .map((s) => s.slice(4));
}

/** The peer identity is the first parseable SPIFFE URI SAN of the leaf (data-plane.md §1.2). */
export function identityFromSans(subjectAltName: string | undefined): string | undefined {
  for (const uri of uriSans(subjectAltName)) {
    const id = tryParseSpiffeId(uri);
    if (id) return formatSpiffeId(id);
  }
  return undefined;
}
