// The ABI entry points the host calls. A plugin re-exports this module: `export * from "../sdk/exports";`.
// The body callbacks are in "./body-exports": a plugin that overrides onRequestBody/onResponseBody re-exports that
// module too. A module without them tells the host it never looks at bodies, so the waypoint streams them as they
// are (content-length kept) instead of through the plugin.

import { Action, rootFactory } from "./index";
import { contexts, roots } from "./registry";

export function proxy_abi_version_0_2_1(): void {}

/** Host-to-guest buffers: the SDK copies them into managed objects and frees them (see takeReturned). */
export function proxy_on_memory_allocate(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(id: u32, parent: u32): void {
  if (parent == 0) {
    roots.set(id, rootFactory(id));
  } else if (roots.has(parent)) {
    contexts.set(id, roots.get(parent).createContext(id));
  }
}

export function proxy_on_vm_start(id: u32, size: usize): bool {
  return roots.has(id) ? roots.get(id).onVmStart(size) : true;
}

export function proxy_on_configure(id: u32, size: usize): bool {
  return roots.has(id) ? roots.get(id).onConfigure(size) : true;
}

export function proxy_on_tick(id: u32): void {
  if (roots.has(id)) roots.get(id).onTick();
}

export function proxy_on_queue_ready(id: u32, queueId: u32): void {
  if (roots.has(id)) roots.get(id).onQueueReady(queueId);
}

export function proxy_on_request_headers(id: u32, headers: u32, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onRequestHeaders(headers, eos) : Action.Continue;
}

export function proxy_on_request_trailers(id: u32, trailers: u32): Action {
  return contexts.has(id) ? contexts.get(id).onRequestTrailers(trailers) : Action.Continue;
}

export function proxy_on_response_headers(id: u32, headers: u32, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onResponseHeaders(headers, eos) : Action.Continue;
}

export function proxy_on_response_trailers(id: u32, trailers: u32): Action {
  return contexts.has(id) ? contexts.get(id).onResponseTrailers(trailers) : Action.Continue;
}

export function proxy_on_new_connection(id: u32): Action {
  return contexts.has(id) ? contexts.get(id).onNewConnection() : Action.Continue;
}

export function proxy_on_downstream_data(id: u32, size: usize, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onDownstreamData(size, eos) : Action.Continue;
}

export function proxy_on_upstream_data(id: u32, size: usize, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onUpstreamData(size, eos) : Action.Continue;
}

export function proxy_on_downstream_connection_close(id: u32, peer: u32): void {
  if (contexts.has(id)) contexts.get(id).onDownstreamClose(peer);
}

export function proxy_on_upstream_connection_close(id: u32, peer: u32): void {
  if (contexts.has(id)) contexts.get(id).onUpstreamClose(peer);
}

export function proxy_on_http_call_response(id: u32, callId: u32, headers: u32, bodySize: usize, trailers: u32): void {
  if (contexts.has(id)) contexts.get(id).onHttpCallResponse(callId, headers, bodySize, trailers);
  else if (roots.has(id)) roots.get(id).onHttpCallResponse(callId, headers, bodySize, trailers);
}

export function proxy_on_log(id: u32): void {
  if (contexts.has(id)) contexts.get(id).onLog();
}

export function proxy_on_done(id: u32): bool {
  if (contexts.has(id)) return contexts.get(id).onDone();
  if (roots.has(id)) return roots.get(id).onDone();
  return true;
}

export function proxy_on_delete(id: u32): void {
  if (contexts.has(id)) {
    contexts.get(id).onDelete();
    contexts.delete(id);
  } else if (roots.has(id)) {
    roots.get(id).onDelete();
    roots.delete(id);
  }
}
