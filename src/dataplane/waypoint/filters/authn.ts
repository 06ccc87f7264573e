// authn phase: RequestAuthentication (policy.md §2). No token passes; a token that fails is 401 with jwt_authn's
// text before any authorization policy runs; a valid one leaves its claims for authz and edits the headers.

import { toJwtResult } from "../../../policy/index.js";
import type { Filter } from "../chain.js";
import type { RequestContext } from "../context.js";

export const authnFilter: Filter = {
  name: "authn",
  async onRequest(ctx: RequestContext) {
    const authn = ctx.destination.kind === "service" ? ctx.destination.service.authn : ctx.state.defaultAuthn;
    if (authn.ruleCount === 0) return undefined;
    const r = await authn.authenticate({ headers: ctx.headers, path: ctx.path, method: ctx.method });
    if (r.status === "invalid") {
      return {
        status: 401,
        body: r.error ?? "Jwt verification fails",
        details: `jwt_authn_access_denied{${(r.error ?? "Jwt verification fails").replaceAll(" ", "_")}}`,
        headers: { "www-authenticate": `Bearer realm="http://${ctx.authority}${ctx.path}", error="invalid_token"` },
      };
    }
    for (const name of r.headerChanges.remove) delete ctx.headers[name];
    for (const [k, v] of Object.entries(r.headerChanges.set)) ctx.headers[k] = v;
    ctx.jwt = toJwtResult(r);
    return undefined;
  },
};
