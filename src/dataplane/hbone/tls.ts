// TLS for HBONE: mutual TLS 1.3 only, AES-GCM suites only, ALPN h2, no SNI, no resumption; identities are SPIFFE
// URI SANs, never hostnames (data-plane.md §1.2).

import type { PeerCertificate, SecureContext, SecureContextOptions, TLSSocket } from "node:tls";
import { createSecureContext } from "node:tls";
import { AmbitError } from "../../errors.js";
import { identityFromSans, tryParseSpiffeId, uriSans } from "../../identity/spiffe.js";

/** The workload's key, certificate chain (leaf first) and trusted roots, PEM. */
export interface CertSource {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | Array<string | Buffer>;
}

/** Called for every new TLS session, so a rotated certificate applies to new sessions only. */
export type CertProvider = () => CertSource;

export const ALPN = ["h2"];
// Preference order as ztunnel's: AES-256 first, no ChaCha20.
export const TLS13_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

const contexts = new WeakMap<CertSource, SecureContext>();

/** Context options for a source; without one, only the protocol limits (certificates come per connection). */
export function secureContextOptions(src: CertSource | undefined): SecureContextOptions {
  return { ...src, minVersion: "TLSv1.3", maxVersion: "TLSv1.3", ciphers: TLS13_CIPHERS };
}

/** One SecureContext per CertSource object: providers that return the same object reuse the parsed context. */
export function secureContextFor(src: CertSource): SecureContext {
  let ctx = contexts.get(src);
  if (!ctx) {
    ctx = createSecureContext(secureContextOptions(src));
    contexts.set(src, ctx);
  }
  return ctx;
}

/** The peer's mesh identity: the first parseable SPIFFE URI SAN of its leaf certificate. */
export function peerIdentity(socket: TLSSocket): string | undefined {
  return identityFromSans(socket.getPeerCertificate()?.subjectaltname);
}

/**
 * Client-side check of the server: one of its SPIFFE URI SANs must be in the expected list (service SANs plus the
 * destination workload's identity). DNS names and the dialed address play no part.
 */
export function verifyServerIdentity(cert: PeerCertificate, expected: readonly string[]): AmbitError | undefined {
  const presented = uriSans(cert.subjectaltname).filter((u) => tryParseSpiffeId(u) !== undefined);
  if (presented.some((id) => expected.includes(id))) return undefined;
  return new AmbitError(
    "AMBIT_HBONE_PEER_IDENTITY",
    `the HBONE server presented ${presented.join(", ") || "no SPIFFE identity"}, expected one of ${expected.join(", ")}`,
  );
}

/** Maps a failed chain verification (OpenSSL's code) to our error. */
export function untrustedPeer(code: string | Error, side: "server" | "client"): AmbitError {
  const detail = typeof code === "string" ? code : ((code as NodeJS.ErrnoException).code ?? code.message);
  return new AmbitError("AMBIT_HBONE_PEER_UNTRUSTED", `the HBONE ${side}'s certificate is not trusted: ${detail}`);
}
