// The interface between the waypoint's filter chain and a loaded plugin.

import type { AbiVersion, LogLevelName } from "./abi.js";
import type { HeaderMap } from "./header-map.js";
import type { PropertyBag } from "./properties.js";

export type FailStrategy = "FAIL_CLOSE" | "FAIL_OPEN" | "FAIL_RELOAD";
export type PluginType = "HTTP" | "NETWORK";

export interface LocalResponse {
  status: number;
  body: Uint8Array;
  headers: HeaderMap;
  /** gRPC status the plugin asked for, when it asked for one. */
  grpcStatus?: number;
  /** Envoy's "response code details" string. */
  details: string;
}

/**
 * What the chain does after an HTTP callback: forward, wait for `context.resumed`, reset the stream, or answer
 * with a local response instead of forwarding.
 */
export type HttpAction = "continue" | "pause" | "close" | { localResponse: LocalResponse };

/** What the chain does after a NETWORK callback. */
export type StreamAction = "continue" | "pause" | "close";

export interface HttpCallResponse {
  headers: HeaderMap;
  body: Uint8Array;
  trailers: HeaderMap;
}

/** The waypoint's side of proxy_http_call: `upstream` is the cluster name the plugin passed. */
export interface HostCalls {
  httpCall(
    upstream: string,
    headers: HeaderMap,
    body: Uint8Array,
    trailers: HeaderMap,
    timeoutMs: number,
  ): Promise<HttpCallResponse>;
}

export interface Clock {
  /** Wall-clock time in nanoseconds since the epoch. */
  nowNanos(): bigint;
  /** A monotonic clock in nanoseconds. */
  monotonicNanos(): bigint;
}

export type LogSink = (level: LogLevelName, message: string, plugin: string) => void;

export interface LoadPluginOptions {
  /** WasmPlugin name (namespace/name); used in logs, errors and the `plugin_name` property. */
  name: string;
  bytes: Uint8Array;
  /** WasmPlugin.pluginConfig: objects are JSON-serialised, strings and bytes passed as they are. */
  pluginConfig?: unknown;
  /** Read by the plugin in proxy_on_vm_start (VM_CONFIGURATION); same encoding as pluginConfig. */
  vmConfig?: unknown;
  /** WasmPlugin.vmConfig.env after INLINE/HOST resolution; visible to the guest through WASI environ_get. */
  vmEnv?: Record<string, string>;
  /** WasmPlugin.pluginName (Envoy root_id). */
  rootId?: string;
  /** Plugins with the same vmId share shared data and queues. */
  vmId?: string;
  failStrategy?: FailStrategy;
  type?: PluginType;
  hostCalls?: HostCalls;
  clock?: Clock;
  log?: LogSink;
  logLevel?: LogLevelName;
  /** Extra plugin-wide properties, e.g. `node.metadata.CLUSTER_ID`. */
  properties?: PropertyBag;
}

export interface HttpContext extends ContextLifecycle {
  readonly id: number;
  onRequestHeaders(headers: HeaderMap, endOfStream: boolean): HttpAction;
  /** After "continue", forward `takeRequestBody()`; after "pause" the host keeps buffering. */
  onRequestBody(chunk: Uint8Array, endOfStream: boolean): HttpAction;
  onRequestTrailers(trailers: HeaderMap): HttpAction;
  onResponseHeaders(headers: HeaderMap, endOfStream: boolean): HttpAction;
  onResponseBody(chunk: Uint8Array, endOfStream: boolean): HttpAction;
  onResponseTrailers(trailers: HeaderMap): HttpAction;
  /** The request body bytes to forward (possibly rewritten by the plugin); empties the host buffer. */
  takeRequestBody(): Uint8Array;
  takeResponseBody(): Uint8Array;
  /** Trailers the plugin added from a body callback when the stream had none. */
  readonly addedRequestTrailers: HeaderMap | undefined;
  readonly addedResponseTrailers: HeaderMap | undefined;
  /** Settles when a paused callback's stream may proceed: how to proceed ("continue", a local response, "close"). */
  readonly resumed: Promise<HttpAction>;
}

/** The end of a context's life, the same for HTTP and stream contexts. */
export interface ContextLifecycle {
  readonly paused: boolean;
  onLog(): void;
  /** False when the plugin wants to finish later; `finished` then settles when it calls proxy_done. */
  onDone(): boolean;
  readonly finished: Promise<void>;
  delete(): void;
  /** The ABI's end-of-stream sequence: done (waiting for proxy_done if asked), log, delete. */
  finish(): Promise<void>;
}

export interface StreamContext extends ContextLifecycle {
  readonly id: number;
  onNewConnection(): StreamAction;
  onDownstreamData(chunk: Uint8Array, endOfStream: boolean): StreamAction;
  onUpstreamData(chunk: Uint8Array, endOfStream: boolean): StreamAction;
  onDownstreamClose(peer?: "unknown" | "local" | "remote"): void;
  onUpstreamClose(peer?: "unknown" | "local" | "remote"): void;
  takeDownstreamData(): Uint8Array;
  takeUpstreamData(): Uint8Array;
  readonly resumed: Promise<StreamAction>;
}

export interface Plugin {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly type: PluginType;
  readonly failStrategy: FailStrategy;
  readonly abiVersion: AbiVersion;
  /** The error that made the plugin fail (a trap), if any; FAIL_RELOAD clears it when the new VM is up. */
  readonly failed: Error | undefined;
  newHttpContext(attrs?: PropertyBag): HttpContext;
  newStreamContext(attrs?: PropertyBag): StreamContext;
  /** Current size of the guest's linear memory in bytes. */
  memoryBytes(): number;
  /** Number of live stream contexts (for leak checks). */
  liveContexts(): number;
  /** Calls proxy_on_done/proxy_on_delete on the root context, stops ticks and drops pending calls. */
  close(): void;
}
