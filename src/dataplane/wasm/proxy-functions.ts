// proxy-wasm host functions (ABI v0.2.1, plus the v0.2.0 names). Each acts on the runtime's effective context
// and returns a proxy_status_t; results go back through guest-allocated buffers (GuestMemory.give).

import { BufferType, LOG_LEVEL_NAMES, MapType, MetricType, Status, StreamType } from "./abi.js";
import type { ContextState } from "./context-state.js";
import {
  addHeader,
  deserializeHeaders,
  type HeaderMap,
  headerValue,
  removeHeader,
  replaceHeader,
  serializedSize,
  serializeHeaders,
  setHeaders,
} from "./header-map.js";
import type { MetricKind } from "./metrics.js";
import { encodeProperty, resolveProperty } from "./properties.js";
import type { PluginRuntime } from "./runtime.js";
import { TRAP } from "./runtime.js";
import type { HttpCallResponse, LocalResponse } from "./types.js";

const METRIC_KINDS: Record<number, MetricKind> = {
  [MetricType.COUNTER]: "counter",
  [MetricType.GAUGE]: "gauge",
  [MetricType.HISTOGRAM]: "histogram",
};

const EMPTY = new Uint8Array(0);

export function proxyFunctions(rt: PluginRuntime) {
  const ctx = () => rt.effective;
  const give = (bytes: Uint8Array, ptrPtr: number, sizePtr: number) =>
    rt.mem.give(bytes, ptrPtr, sizePtr) ? Status.OK : Status.INTERNAL_FAILURE;

  function readBuffer(c: ContextState, type: number): Uint8Array | undefined {
    if (type === BufferType.PLUGIN_CONFIGURATION) return rt.pluginConfig;
    if (type === BufferType.VM_CONFIGURATION) return rt.vmConfig;
    if (type === BufferType.HTTP_CALL_RESPONSE_BODY) return c.callResponse?.body;
    return c.buffers[type];
  }

  function readMap(c: ContextState, type: number): HeaderMap | undefined {
    if (type === MapType.HTTP_CALL_RESPONSE_HEADERS) return c.callResponse?.headers;
    if (type === MapType.HTTP_CALL_RESPONSE_TRAILERS) return c.callResponse?.trailers;
    return c.maps[type];
  }

  /** A map the plugin may write: request/response headers and trailers; missing trailers are created. */
  function writableMap(c: ContextState, type: number): HeaderMap | number {
    // Call-response maps are read-only and gRPC metadata is not supported.
    if (type < 0 || type > MapType.HTTP_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
    let map = c.maps[type];
    if (map === undefined) {
      if (type !== MapType.HTTP_REQUEST_TRAILERS && type !== MapType.HTTP_RESPONSE_TRAILERS) return Status.NOT_FOUND;
      map = [];
      c.maps[type] = map;
    }
    return map;
  }

  function continueStream(type: number): number {
    if (type < StreamType.HTTP_REQUEST || type > StreamType.UPSTREAM) return Status.BAD_ARGUMENT;
    const c = ctx();
    // Continuing from inside the paused callback itself changes nothing: the callback's return value decides.
    if (!c.inStreamCallback) c.resume(type, "continue");
    return Status.OK;
  }

  function httpCall(
    upPtr: number,
    upLen: number,
    hPtr: number,
    hLen: number,
    bPtr: number,
    bLen: number,
    tPtr: number,
    tLen: number,
    timeoutMs: number,
    retIdPtr: number,
  ): number {
    const upstream = rt.mem.utf8(upPtr, upLen);
    const headers = deserializeHeaders(rt.mem.view8(hPtr, hLen));
    const body = rt.mem.copy(bPtr, bLen);
    const trailers = deserializeHeaders(rt.mem.view8(tPtr, tLen));
    if (rt.hostCalls === undefined) return Status.BAD_ARGUMENT;
    for (const required of [":method", ":path", ":authority"]) {
      if (headerValue(headers, required) === undefined) return Status.BAD_ARGUMENT;
    }
    const id = rt.nextCallId++;
    rt.mem.setU32(retIdPtr, id);
    const issuer = ctx();
    const generation = rt.generation;
    let settled = false;
    const finish = (res: HttpCallResponse | undefined, status: { code: number; message: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rt.timers.delete(timer);
      if (rt.closed || issuer.deleted || generation !== rt.generation || rt.failure !== undefined) return;
      const onResponse = rt.fn("proxy_on_http_call_response");
      if (onResponse === undefined) return;
      issuer.callResponse = res;
      issuer.callStatus = status;
      const r = rt.invoke(
        issuer,
        onResponse,
        issuer.id,
        id,
        res?.headers.length ?? 0,
        res?.body.length ?? 0,
        res?.trailers.length ?? 0,
      );
      issuer.callResponse = undefined;
      if (r === TRAP) issuer.failed = true;
    };
    const timeout = timeoutMs >>> 0 || 30_000;
    const timer = setTimeout(() => finish(undefined, { code: 0, message: "timeout" }), timeout);
    rt.timers.add(timer);
    rt.hostCalls.httpCall(upstream, headers, body, trailers, timeout).then(
      (res) => finish(res, { code: Number(headerValue(res.headers, ":status") ?? 0), message: "" }),
      (err: unknown) => finish(undefined, { code: 0, message: (err as Error)?.message ?? String(err) }),
    );
    return Status.OK;
  }

  return {
    proxy_log(level: number, ptr: number, len: number): number {
      const name = LOG_LEVEL_NAMES[level];
      if (name === undefined) return Status.BAD_ARGUMENT;
      rt.log(name, rt.mem.utf8(ptr, len));
      return Status.OK;
    },
    proxy_get_log_level(retPtr: number): number {
      rt.mem.setU32(retPtr, rt.logLevel);
      return Status.OK;
    },
    proxy_get_current_time_nanoseconds(retPtr: number): number {
      rt.mem.setU64(retPtr, rt.clock.nowNanos());
      return Status.OK;
    },
    proxy_set_tick_period_milliseconds(ms: number): number {
      rt.setTickPeriod(ms >>> 0);
      return Status.OK;
    },
    proxy_set_effective_context(id: number): number {
      const target = id === rt.root.id ? rt.root : rt.contexts.get(id);
      if (target === undefined) return Status.BAD_ARGUMENT;
      rt.effective = target;
      return Status.OK;
    },
    proxy_done(): number {
      const c = ctx();
      if (!c.awaitingDone) return Status.NOT_FOUND;
      c.awaitingDone = false;
      c.done.resolve();
      return Status.OK;
    },

    proxy_get_property(pathPtr: number, pathLen: number, retPtr: number, retSize: number): number {
      const c = ctx();
      const segments = rt.mem
        .utf8(pathPtr, pathLen)
        .split("\0")
        .filter((s) => s.length > 0);
      const value = resolveProperty(segments, {
        bag: c.bag,
        plugin: rt.pluginProps,
        requestHeaders: c.maps[MapType.HTTP_REQUEST_HEADERS],
        responseHeaders: c.maps[MapType.HTTP_RESPONSE_HEADERS],
      });
      if (value === undefined) return Status.NOT_FOUND;
      return give(encodeProperty(value), retPtr, retSize);
    },
    proxy_set_property(pathPtr: number, pathLen: number, vPtr: number, vLen: number): number {
      const key = rt.mem
        .utf8(pathPtr, pathLen)
        .split("\0")
        .filter((s) => s.length > 0)
        .join(".");
      ctx().bag[key] = rt.mem.copy(vPtr, vLen);
      return Status.OK;
    },

    proxy_get_buffer_bytes(type: number, start: number, max: number, retPtr: number, retSize: number): number {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      const buf = readBuffer(ctx(), type);
      if (buf === undefined) return Status.NOT_FOUND;
      const from = start >>> 0;
      if (from > buf.length) return Status.BAD_ARGUMENT;
      return give(buf.subarray(from, Math.min(buf.length, from + (max >>> 0))), retPtr, retSize);
    },
    proxy_set_buffer_bytes(type: number, start: number, size: number, vPtr: number, vLen: number): number {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      if (type > BufferType.UPSTREAM_DATA) return Status.BAD_ARGUMENT;
      const c = ctx();
      const buf = c.buffers[type];
      if (buf === undefined) return Status.NOT_FOUND;
      const from = Math.min(start >>> 0, buf.length);
      const to = Math.min(buf.length, from + (size >>> 0));
      c.buffers[type] = Buffer.concat([buf.subarray(0, from), rt.mem.view8(vPtr, vLen), buf.subarray(to)]);
      return Status.OK;
    },
    proxy_get_buffer_status(type: number, sizePtr: number, flagsPtr: number): number {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      const buf = readBuffer(ctx(), type);
      if (buf === undefined) return Status.NOT_FOUND;
      rt.mem.setU32(sizePtr, buf.length);
      rt.mem.setU32(flagsPtr, 0);
      return Status.OK;
    },

    proxy_get_header_map_pairs(type: number, retPtr: number, retSize: number): number {
      if (type < 0 || type > MapType.HTTP_CALL_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
      const map = readMap(ctx(), type);
      return give(map === undefined || map.length === 0 ? EMPTY : serializeHeaders(map), retPtr, retSize);
    },
    proxy_set_header_map_pairs(type: number, ptr: number, len: number): number {
      const map = writableMap(ctx(), type);
      if (typeof map === "number") return map;
      setHeaders(map, deserializeHeaders(rt.mem.view8(ptr, len)));
      return Status.OK;
    },
    proxy_get_header_map_size(type: number, retSize: number): number {
      if (type < 0 || type > MapType.HTTP_CALL_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
      const map = readMap(ctx(), type);
      rt.mem.setU32(retSize, map === undefined || map.length === 0 ? 0 : serializedSize(map));
      return Status.OK;
    },
    proxy_get_header_map_value(type: number, kPtr: number, kLen: number, retPtr: number, retSize: number): number {
      if (type < 0 || type > MapType.HTTP_CALL_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
      const map = readMap(ctx(), type);
      if (map === undefined) return Status.NOT_FOUND;
      const v = headerValue(map, rt.mem.latin1(kPtr, kLen));
      if (v === undefined) return Status.NOT_FOUND;
      return give(Buffer.from(v, "latin1"), retPtr, retSize);
    },
    proxy_add_header_map_value(type: number, kPtr: number, kLen: number, vPtr: number, vLen: number): number {
      const map = writableMap(ctx(), type);
      if (typeof map === "number") return map;
      addHeader(map, rt.mem.latin1(kPtr, kLen), rt.mem.latin1(vPtr, vLen));
      return Status.OK;
    },
    proxy_replace_header_map_value(type: number, kPtr: number, kLen: number, vPtr: number, vLen: number): number {
      const map = writableMap(ctx(), type);
      if (typeof map === "number") return map;
      replaceHeader(map, rt.mem.latin1(kPtr, kLen), rt.mem.latin1(vPtr, vLen));
      return Status.OK;
    },
    proxy_remove_header_map_value(type: number, kPtr: number, kLen: number): number {
      const map = writableMap(ctx(), type);
      if (map === Status.NOT_FOUND) return Status.OK;
      if (typeof map === "number") return map;
      removeHeader(map, rt.mem.latin1(kPtr, kLen));
      return Status.OK;
    },

    proxy_send_local_response(
      status: number,
      detailsPtr: number,
      detailsLen: number,
      bodyPtr: number,
      bodyLen: number,
      hPtr: number,
      hLen: number,
      grpcStatus: number,
    ): number {
      const c = ctx();
      if (c.kind !== "http") return Status.BAD_ARGUMENT;
      const local: LocalResponse = {
        status: status >>> 0,
        details: rt.mem.utf8(detailsPtr, detailsLen),
        body: rt.mem.copy(bodyPtr, bodyLen),
        headers: deserializeHeaders(rt.mem.view8(hPtr, hLen)),
      };
      // -1 (0xffffffff) means "no gRPC status".
      if (grpcStatus >= 0) local.grpcStatus = grpcStatus;
      if (c.inStreamCallback || !c.resumeAll({ localResponse: local })) c.localResponse = local;
      return Status.OK;
    },
    proxy_continue_stream: continueStream,
    proxy_continue_request: () => continueStream(StreamType.HTTP_REQUEST),
    proxy_continue_response: () => continueStream(StreamType.HTTP_RESPONSE),
    proxy_close_stream(type: number): number {
      if (type < StreamType.HTTP_REQUEST || type > StreamType.UPSTREAM) return Status.BAD_ARGUMENT;
      const c = ctx();
      if (c.inStreamCallback || !c.resumeAll("close")) c.closeRequested = true;
      return Status.OK;
    },
    proxy_get_status(codePtr: number, msgPtr: number, msgSize: number): number {
      const s = ctx().callStatus;
      if (s === undefined) return Status.NOT_FOUND;
      rt.mem.setU32(codePtr, s.code);
      return give(Buffer.from(s.message, "utf8"), msgPtr, msgSize);
    },

    proxy_http_call: httpCall,
    proxy_dispatch_http_call: httpCall,

    proxy_define_metric(type: number, namePtr: number, nameLen: number, retId: number): number {
      const kind = METRIC_KINDS[type];
      if (kind === undefined) return Status.BAD_ARGUMENT;
      const id = rt.host.metrics.define(kind, rt.mem.utf8(namePtr, nameLen));
      if (id === undefined) return Status.BAD_ARGUMENT;
      rt.mem.setU32(retId, id);
      return Status.OK;
    },
    proxy_increment_metric(id: number, delta: bigint): number {
      return rt.host.metrics.increment(id >>> 0, BigInt.asIntN(64, delta));
    },
    proxy_record_metric(id: number, value: bigint): number {
      return rt.host.metrics.record(id >>> 0, BigInt.asUintN(64, value));
    },
    proxy_get_metric(id: number, retPtr: number): number {
      const v = rt.host.metrics.get(id >>> 0);
      if (v === undefined) return Status.NOT_FOUND;
      rt.mem.setU64(retPtr, v);
      return Status.OK;
    },

    proxy_get_shared_data(kPtr: number, kLen: number, retPtr: number, retSize: number, casPtr: number): number {
      const entry = rt.host.sharedData.get(rt.vmId, rt.mem.utf8(kPtr, kLen));
      if (entry === undefined) return Status.NOT_FOUND;
      rt.mem.setU32(casPtr, entry.cas);
      return give(entry.value, retPtr, retSize);
    },
    proxy_set_shared_data(kPtr: number, kLen: number, vPtr: number, vLen: number, cas: number): number {
      return rt.host.sharedData.set(rt.vmId, rt.mem.utf8(kPtr, kLen), rt.mem.view8(vPtr, vLen), cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameLen: number, retId: number): number {
      rt.mem.setU32(retId, rt.host.queues.register(rt.vmId, rt.mem.utf8(namePtr, nameLen), rt.queueReady));
      return Status.OK;
    },
    proxy_resolve_shared_queue(vmPtr: number, vmLen: number, namePtr: number, nameLen: number, retId: number): number {
      const id = rt.host.queues.resolve(rt.mem.utf8(vmPtr, vmLen), rt.mem.utf8(namePtr, nameLen));
      if (id === undefined) return Status.NOT_FOUND;
      rt.mem.setU32(retId, id);
      return Status.OK;
    },
    proxy_enqueue_shared_queue(id: number, vPtr: number, vLen: number): number {
      return rt.host.queues.enqueue(id >>> 0, rt.mem.view8(vPtr, vLen));
    },
    proxy_dequeue_shared_queue(id: number, retPtr: number, retSize: number): number {
      const item = rt.host.queues.dequeue(id >>> 0);
      if (typeof item === "number") return item;
      return give(item, retPtr, retSize);
    },

    proxy_call_foreign_function(): number {
      return Status.NOT_FOUND;
    },
  };
}
