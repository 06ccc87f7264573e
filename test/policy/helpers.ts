// Small builders so each test states only what its rule is about.

import type { AuthorizationPolicy, AuthorizationPolicySpec } from "../../src/api/resources.js";
import type { HttpAttributes, L7Request } from "../../src/policy/request.js";

export function ap(
  name: string,
  spec: AuthorizationPolicySpec,
  opts: { namespace?: string; annotations?: Record<string, string>; generation?: number } = {},
): AuthorizationPolicy {
  const metadata: AuthorizationPolicy["metadata"] = { name, namespace: opts.namespace ?? "ns1" };
  if (opts.annotations) metadata.annotations = opts.annotations;
  if (opts.generation !== undefined) metadata.generation = opts.generation;
  return { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata, spec };
}

export const CLIENT = "spiffe://cluster.local/ns/client-ns/sa/client";

export interface ReqOverrides {
  principal?: string | null;
  ip?: string;
  remoteIp?: string;
  destIp?: string;
  port?: number;
  service?: string;
  http?: Partial<HttpAttributes> | null;
  claims?: Record<string, unknown> | null;
  jwtInvalid?: string;
  sni?: string;
}

export function req(o: ReqOverrides = {}): L7Request {
  const http =
    o.http === null
      ? null
      : { method: "GET", path: "/", host: "svc.ns1.svc.cluster.local", headers: {}, ...(o.http ?? {}) };
  const r: L7Request = {
    source: { principal: o.principal === undefined ? CLIENT : o.principal, ip: o.ip ?? "10.0.0.1" },
    destination: { ip: o.destIp ?? "10.96.0.10", port: o.port ?? 8080 },
    http,
    jwt:
      o.jwtInvalid !== undefined
        ? { claims: {}, valid: false, error: o.jwtInvalid }
        : o.claims
          ? { claims: o.claims, valid: true }
          : null,
  };
  if (o.remoteIp) r.source.remoteIp = o.remoteIp;
  if (o.service) r.destination.service = o.service;
  if (o.sni) r.sni = o.sni;
  return r;
}
