// SPIFFE identities as policies see them: `<trust-domain>/ns/<ns>/sa/<sa>`, the `spiffe://` scheme stripped.

export const SPIFFE_PREFIX = "spiffe://";

/** The principal a policy compares with: the peer's SPIFFE ID without the scheme, or undefined when plaintext. */
export function policyPrincipal(principal: string | null | undefined): string | undefined {
  if (principal === null || principal === undefined || principal === "") return undefined;
  return principal.startsWith(SPIFFE_PREFIX) ? principal.slice(SPIFFE_PREFIX.length) : principal;
}

export interface SpiffeParts {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** Parses `<td>/ns/<ns>/sa/<sa>` (scheme already stripped); undefined for any other shape. */
export function parseIdentity(principal: string | undefined): SpiffeParts | undefined {
  if (principal === undefined) return undefined;
  const parts = principal.split("/");
  if (parts.length !== 5 || parts[1] !== "ns" || parts[3] !== "sa") return undefined;
  return { trustDomain: parts[0]!, namespace: parts[2]!, serviceAccount: parts[4]! };
}

/** The trust domain part of a principal (text before the first `/`). */
export function trustDomainOf(principal: string | undefined): string | undefined {
  if (principal === undefined) return undefined;
  const slash = principal.indexOf("/");
  return slash > 0 ? principal.slice(0, slash) : undefined;
}
