// WasmPlugins in the waypoint; see docs/wasm.md ("In the waypoint").

export { WaypointWasm, type WaypointWasmOptions } from "./extensions.js";
export { WasmFilter } from "./filter.js";
export { type HttpCallTarget, parseUpstream, waypointHttpCalls } from "./http-calls.js";
export { exportWasmMetrics } from "./metrics.js";
export { type NetworkPlugin, NetworkPlugins } from "./network.js";
export { LoadedVersion, PluginSlot, resolveUrl, type SlotState } from "./slot.js";
export { covers, loadFingerprint, readWasmPlugin, type WasmPluginSpec } from "./spec.js";
