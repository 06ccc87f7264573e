// The waypoint's public surface; see docs/waypoint.md.

export { type EndpointHealth, EndpointHealthTable, type LbPolicy, type OutlierOptions } from "./balancer.js";
export {
  buildChain,
  type ExtensionFilter,
  type ExtensionPhase,
  type Filter,
  type FilterResult,
  PHASES,
} from "./chain.js";
export type { Downstream, RequestContext } from "./context.js";
export { type Detected, detect } from "./detect.js";
export type { LocalReply } from "./local-reply.js";
export { HTTP_LABELS, PEER_LABELS, WaypointMetrics } from "./metrics.js";
export { type RouteRule, RouteTable } from "./routes.js";
export { type Destination, portProtocol, WaypointState } from "./state.js";
export type { TelemetrySettings } from "./telemetry.js";
export { Waypoint, type WaypointEvents, type WaypointOptions } from "./waypoint.js";
