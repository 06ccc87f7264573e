// authz phase: AuthorizationPolicy with Envoy's RBAC semantics (policy.md §1.2). Service-targeted policies apply
// only to their service (destination.service), Gateway/GatewayClass-attached ones to every request. A denial is
// 403 `RBAC: access denied`.

import { tryParseSpiffeId } from "../../../identity/spiffe.js";
import type { Filter } from "../chain.js";
import type { RequestContext } from "../context.js";

export const authzFilter: Filter = {
  name: "authz",
  onRequest(ctx: RequestContext) {
    const d = ctx.destination;
    const t = ctx.tunnel;
    const decision = ctx.state.authz.evaluate({
      source: { principal: t.peer, ip: t.remoteAddress, namespace: tryParseSpiffeId(t.peer)?.namespace },
      destination: {
        ip: t.target.host,
        port: t.target.port,
        namespace: d.kind === "service" ? d.service.service.namespace : d.workload.namespace,
        service: d.kind === "service" ? d.service.key : undefined,
        labels: d.kind === "workload" ? d.workload.labels : undefined,
      },
      http: { method: ctx.method, path: ctx.path, host: ctx.authority, headers: ctx.headers },
      jwt: ctx.jwt,
    });
    if (decision.allowed) return undefined;
    const p = decision.policy;
    const matched = p ? `${p.namespace}.${p.name}` : "none";
    if (decision.status === 401) return { status: 401, body: decision.reason, details: "jwt_authn_access_denied" };
    if (decision.status === 400) return { status: 400, body: "Bad Request", details: "path_normalization_failed" };
    return {
      status: decision.status ?? 403,
      body: "RBAC: access denied",
      details: `rbac_access_denied_matched_policy[${matched}]`,
    };
  },
};
