// The ztunnel's public surface.
export type { AdminPorts } from "./admin.js";
export {
  type AppDialer,
  type SourcePreservingOptions,
  sourcePreservingConnector,
} from "./app-connect.js";
export type { TrackedConnection } from "./connections.js";
export type { AppConnector, OriginalDestination } from "./context.js";
export type { PodDialer, PodSockets } from "./pod-proxy.js";
export { type Destination, type OutboundRoute, routeOutbound, ZTUNNEL_PORTS } from "./route.js";
export { Ztunnel, type ZtunnelOptions } from "./ztunnel.js";
