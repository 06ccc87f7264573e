// The control plane's public surface.
export { type CaAuthorizerOptions, caAuthorizer } from "./ca-authorizer.js";
export { ControlPlane, type ControlPlaneOptions } from "./control-plane.js";
export { MeshSource, type MeshSourceOptions } from "./mesh-source.js";
export { buildWaypointConfig, waypointIdentity } from "./waypoint-l7.js";
