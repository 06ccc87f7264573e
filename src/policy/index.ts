// The policy engine's public surface.

export { type EvaluateOptions, type ExtAuthzResponse, WaypointAuthz, type WaypointAuthzOptions } from "./authz.js";
export type { Decision, PolicyRef, TraceEntry } from "./decision.js";
export { isDryRun } from "./dry-run.js";
export { CachingJwksFetcher, type JwksFetcher } from "./jwks.js";
export { HttpJwksFetcher } from "./jwks-http.js";
export {
  type AuthnRequest,
  type AuthnResult,
  type HeaderChanges,
  JWT_ERRORS,
  RequestAuthenticator,
  toJwtResult,
} from "./jwt.js";
export { normalizePath, type PathNormalization } from "./path.js";
export { effectiveMtls, peerLevels, peerPoliciesFor, STATIC_STRICT_POLICY, staticStrictPolicy } from "./peer.js";
export type { L4Connection, L7Request } from "./request.js";
export { ZtunnelAuthz } from "./ztunnel-authz.js";
export { type L4Policy, toZtunnelPolicy, ZTUNNEL_ACCEPTED, type ZtunnelTranslation } from "./ztunnel-policy.js";
