// The xDS module's public surface: what the control plane serves with and what the data plane consumes with.
export { bearerTokens } from "./auth.js";
export type { BackoffOptions } from "./backoff.js";
export { type UpdateEvent, type Validate, XdsClient, type XdsClientEvents, type XdsClientOptions } from "./client.js";
export type { AckEvent, NackEvent } from "./connection.js";
export { MemorySource } from "./memory-source.js";
export {
  addressName,
  addressResource,
  authorizationResource,
  contentVersion,
  decodeAddress,
  decodeAuthorization,
  decodeWaypointConfig,
  validateResource,
  waypointConfigResource,
} from "./resources.js";
export {
  type Authenticate,
  type ConnectionInfo,
  XdsServer,
  type XdsServerEvents,
  type XdsServerOptions,
} from "./server.js";
export {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  type ResourceListener,
  type ResourceSource,
  type VersionedResource,
  WAYPOINT_CONFIG_TYPE_URL,
} from "./types.js";
