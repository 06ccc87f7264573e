// Bearer-token authentication for the xDS server: ztunnel sends `authorization: Bearer <token>`
// (spec data-plane.md §4.1). Tokens are compared in constant time and never logged.
import { createHash, timingSafeEqual } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { AmbitError } from "../errors.js";
import type { Authenticate } from "./server.js";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Accepts callers presenting one of the tokens; the identity returned is the token's node id. */
export function bearerTokens(tokens: ReadonlyMap<string, string>): Authenticate {
  // Hashing first makes every comparison the same length, so timingSafeEqual applies.
  const known = [...tokens].map(([token, nodeId]) => ({ hash: digest(token), nodeId }));
  return (metadata: grpc.Metadata) => {
    const header = metadata.get("authorization")[0];
    const match = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (match?.[1] === undefined) throw new AmbitError("AMBIT_XDS_UNAUTHENTICATED", "missing bearer token");
    const presented = digest(match[1]);
    let found: string | undefined;
    for (const k of known) if (timingSafeEqual(k.hash, presented)) found = k.nodeId;
    if (found === undefined) throw new AmbitError("AMBIT_XDS_UNAUTHENTICATED", "unknown bearer token");
    return found;
  };
}
