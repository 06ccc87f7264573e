// Public surface of the proxy-wasm host; see docs/wasm.md.

export { type AbiVersion, LogLevel, type LogLevelName, Status } from "./abi.js";
export { type FetchOptions, fetchPlugin } from "./fetch.js";
export {
  addHeader,
  deserializeHeaders,
  type HeaderMap,
  headerValue,
  removeHeader,
  replaceHeader,
  serializeHeaders,
} from "./header-map.js";
export { loadPlugin, WasmPluginHost } from "./host.js";
export { type MetricKind, type MetricSnapshot, parseMetricName } from "./metrics.js";
export { type OrderablePlugin, orderPlugins, type PluginPhase } from "./order.js";
export type { PropertyBag, PropertyValue } from "./properties.js";
export type * from "./types.js";
