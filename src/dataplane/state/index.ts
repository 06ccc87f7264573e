// The data plane's view of the mesh.
export {
  type GatewayEndpoint,
  ProxyState,
  type ProxyStateEvents,
  type ProxyStateOptions,
  type StateChange,
  type StateDelta,
} from "./proxy-state.js";
export * from "./types.js";
