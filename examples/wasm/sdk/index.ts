// A small proxy-wasm SDK for AssemblyScript 0.28: typed helpers over the host functions and context classes a
// plugin extends. A plugin calls `registerRoot` at top level and re-exports "./exports" (the ABI entry points).

import * as host from "./imports";

export enum Action { Continue = 0, Pause = 1 }
export enum Status { Ok = 0, NotFound = 1, BadArgument = 2, Empty = 7, CasMismatch = 8 }
export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export enum BufferType {
  HttpRequestBody = 0, HttpResponseBody = 1, DownstreamData = 2, UpstreamData = 3,
  HttpCallResponseBody = 4, VmConfiguration = 6, PluginConfiguration = 7,
}
export enum MapType {
  HttpRequestHeaders = 0, HttpRequestTrailers = 1, HttpResponseHeaders = 2, HttpResponseTrailers = 3,
  HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}
export enum StreamType { HttpRequest = 0, HttpResponse = 1, Downstream = 2, Upstream = 3 }
export enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

// Out-parameters for host calls: two pointer-sized slots and a 64-bit slot in static memory.
const RET_PTR: usize = memory.data(8);
const RET_LEN: usize = memory.data(8);
const RET_U64: usize = memory.data(8);

function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Takes ownership of a host-allocated buffer (RET_PTR/RET_LEN): copies it out and frees the guest allocation. */
function takeReturned(): ArrayBuffer {
  const ptr = load<usize>(RET_PTR);
  const len = load<usize>(RET_LEN);
  const out = new ArrayBuffer(<i32>len);
  if (len > 0) {
    memory.copy(changetype<usize>(out), ptr, len);
    heap.free(ptr);
  }
  return out;
}

export function str(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf);
}

export function log(level: LogLevel, message: string): void {
  const b = bytes(message);
  host.proxy_log(level, changetype<usize>(b), b.byteLength);
}

export function logLevel(): u32 {
  host.proxy_get_log_level(RET_LEN);
  return load<u32>(RET_LEN);
}

export function nowNanos(): u64 {
  host.proxy_get_current_time_nanoseconds(RET_U64);
  return load<u64>(RET_U64);
}

export function setTickPeriod(ms: u32): void {
  host.proxy_set_tick_period_milliseconds(ms);
}

export function setEffectiveContext(id: u32): u32 {
  return host.proxy_set_effective_context(id);
}

export function done(): u32 {
  return host.proxy_done();
}

// ---- buffers

export function getBuffer(type: BufferType, start: usize = 0, max: usize = 0xffffffff): ArrayBuffer | null {
  if (host.proxy_get_buffer_bytes(type, start, max, RET_PTR, RET_LEN) != Status.Ok) return null;
  return takeReturned();
}

export function setBuffer(type: BufferType, start: usize, size: usize, value: ArrayBuffer): u32 {
  return host.proxy_set_buffer_bytes(type, start, size, changetype<usize>(value), value.byteLength);
}

export function bufferSize(type: BufferType): i64 {
  if (host.proxy_get_buffer_status(type, RET_LEN, RET_PTR) != Status.Ok) return -1;
  return <i64>load<u32>(RET_LEN);
}

// ---- header maps

export class Header {
  constructor(public key: string, public value: string) {}
}

export function serializeHeaders(headers: Header[]): ArrayBuffer {
  const keys = new Array<ArrayBuffer>(headers.length);
  const values = new Array<ArrayBuffer>(headers.length);
  let size = 4 + headers.length * 8;
  for (let i = 0; i < headers.length; i++) {
    keys[i] = bytes(headers[i].key);
    values[i] = bytes(headers[i].value);
    size += keys[i].byteLength + values[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, headers.length);
  let lengths = base + 4;
  let data = base + 4 + headers.length * 8;
  for (let i = 0; i < headers.length; i++) {
    const k = keys[i];
    const v = values[i];
    store<u32>(lengths, k.byteLength);
    store<u32>(lengths + 4, v.byteLength);
    lengths += 8;
    memory.copy(data, changetype<usize>(k), k.byteLength);
    data += k.byteLength;
    store<u8>(data++, 0);
    memory.copy(data, changetype<usize>(v), v.byteLength);
    data += v.byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

export function deserializeHeaders(buf: ArrayBuffer): Header[] {
  const out = new Array<Header>();
  if (buf.byteLength < 4) return out;
  const base = changetype<usize>(buf);
  const count = load<u32>(base);
  let lengths = base + 4;
  let data = base + 4 + count * 8;
  for (let i: u32 = 0; i < count; i++) {
    const kl = load<u32>(lengths);
    const vl = load<u32>(lengths + 4);
    lengths += 8;
    const k = String.UTF8.decodeUnsafe(data, kl);
    data += kl + 1;
    const v = String.UTF8.decodeUnsafe(data, vl);
    data += vl + 1;
    out.push(new Header(k, v));
  }
  return out;
}

export function getHeader(map: MapType, name: string): string | null {
  const k = bytes(name);
  if (host.proxy_get_header_map_value(map, changetype<usize>(k), k.byteLength, RET_PTR, RET_LEN) != Status.Ok) return null;
  return str(takeReturned());
}

export function addHeader(map: MapType, name: string, value: string): u32 {
  const k = bytes(name);
  const v = bytes(value);
  return host.proxy_add_header_map_value(map, changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
}

export function replaceHeader(map: MapType, name: string, value: string): u32 {
  const k = bytes(name);
  const v = bytes(value);
  return host.proxy_replace_header_map_value(map, changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
}

export function removeHeader(map: MapType, name: string): u32 {
  const k = bytes(name);
  return host.proxy_remove_header_map_value(map, changetype<usize>(k), k.byteLength);
}

export function getHeaders(map: MapType): Header[] {
  if (host.proxy_get_header_map_pairs(map, RET_PTR, RET_LEN) != Status.Ok) return new Array<Header>();
  return deserializeHeaders(takeReturned());
}

export function setHeaders(map: MapType, headers: Header[]): u32 {
  const b = serializeHeaders(headers);
  return host.proxy_set_header_map_pairs(map, changetype<usize>(b), b.byteLength);
}

export function headerMapSize(map: MapType): u32 {
  host.proxy_get_header_map_size(map, RET_LEN);
  return load<u32>(RET_LEN);
}

// ---- properties

/** `path` uses "." between segments; the host receives NUL-separated segments. */
export function getProperty(path: string): ArrayBuffer | null {
  const p = bytes(path.replaceAll(".", "\0"));
  if (host.proxy_get_property(changetype<usize>(p), p.byteLength, RET_PTR, RET_LEN) != Status.Ok) return null;
  return takeReturned();
}

export function setProperty(path: string, value: ArrayBuffer): u32 {
  const p = bytes(path.replaceAll(".", "\0"));
  return host.proxy_set_property(changetype<usize>(p), p.byteLength, changetype<usize>(value), value.byteLength);
}

// ---- stream control

export function sendLocalResponse(status: u32, details: string, body: string, headers: Header[], grpcStatus: i32 = -1): u32 {
  const d = bytes(details);
  const b = bytes(body);
  const h = serializeHeaders(headers);
  return host.proxy_send_local_response(
    status, changetype<usize>(d), d.byteLength, changetype<usize>(b), b.byteLength,
    changetype<usize>(h), h.byteLength, grpcStatus);
}

export function continueStream(type: StreamType): u32 {
  return host.proxy_continue_stream(type);
}

export function closeStream(type: StreamType): u32 {
  return host.proxy_close_stream(type);
}

/** Returns the call id, or 0 when the host refused the call. */
export function httpCall(upstream: string, headers: Header[], body: string, trailers: Header[], timeoutMs: u32): u32 {
  const u = bytes(upstream);
  const h = serializeHeaders(headers);
  const b = bytes(body);
  const t = serializeHeaders(trailers);
  const status = host.proxy_http_call(
    changetype<usize>(u), u.byteLength, changetype<usize>(h), h.byteLength, changetype<usize>(b), b.byteLength,
    changetype<usize>(t), t.byteLength, timeoutMs, RET_LEN);
  return status == Status.Ok ? load<u32>(RET_LEN) : 0;
}

/** Status code of the HTTP call whose response is being delivered. */
export function callStatus(): u32 {
  if (host.proxy_get_status(RET_U64, RET_PTR, RET_LEN) != Status.Ok) return 0;
  takeReturned();
  return load<u32>(RET_U64);
}

// ---- metrics

export function defineMetric(type: MetricType, name: string): u32 {
  const n = bytes(name);
  if (host.proxy_define_metric(type, changetype<usize>(n), n.byteLength, RET_LEN) != Status.Ok) return 0;
  return load<u32>(RET_LEN);
}

export function incrementMetric(id: u32, delta: i64): u32 {
  return host.proxy_increment_metric(id, delta);
}

export function recordMetric(id: u32, value: u64): u32 {
  return host.proxy_record_metric(id, value);
}

export function getMetric(id: u32): u64 {
  if (host.proxy_get_metric(id, RET_U64) != Status.Ok) return 0;
  return load<u64>(RET_U64);
}

// ---- shared data and queues

export class SharedValue {
  constructor(public status: u32, public value: ArrayBuffer | null, public cas: u32) {}
}

export function getSharedData(key: string): SharedValue {
  const k = bytes(key);
  const status = host.proxy_get_shared_data(changetype<usize>(k), k.byteLength, RET_PTR, RET_LEN, RET_U64);
  if (status != Status.Ok) return new SharedValue(status, null, 0);
  const cas = load<u32>(RET_U64);
  return new SharedValue(status, takeReturned(), cas);
}

export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): u32 {
  const k = bytes(key);
  return host.proxy_set_shared_data(changetype<usize>(k), k.byteLength, changetype<usize>(value), value.byteLength, cas);
}

export function registerQueue(name: string): u32 {
  const n = bytes(name);
  host.proxy_register_shared_queue(changetype<usize>(n), n.byteLength, RET_LEN);
  return load<u32>(RET_LEN);
}

export function resolveQueue(vmId: string, name: string): u32 {
  const v = bytes(vmId);
  const n = bytes(name);
  if (host.proxy_resolve_shared_queue(changetype<usize>(v), v.byteLength, changetype<usize>(n), n.byteLength, RET_LEN) != Status.Ok) return 0;
  return load<u32>(RET_LEN);
}

export function enqueue(id: u32, value: ArrayBuffer): u32 {
  return host.proxy_enqueue_shared_queue(id, changetype<usize>(value), value.byteLength);
}

export function dequeue(id: u32): ArrayBuffer | null {
  if (host.proxy_dequeue_shared_queue(id, RET_PTR, RET_LEN) != Status.Ok) return null;
  return takeReturned();
}

// ---- configuration

/** Reads a string field of a flat JSON object (enough for example plugin configurations). */
export function jsonString(json: string, key: string): string | null {
  const needle = "\"" + key + "\"";
  let at = json.indexOf(needle);
  if (at < 0) return null;
  at = json.indexOf(":", at + needle.length);
  if (at < 0) return null;
  at = json.indexOf("\"", at);
  if (at < 0) return null;
  let out = "";
  for (let i = at + 1; i < json.length; i++) {
    const c = json.charAt(i);
    if (c == "\\" && i + 1 < json.length) {
      i++;
      const e = json.charAt(i);
      out += e == "n" ? "\n" : e == "t" ? "\t" : e;
    } else if (c == "\"") {
      return out;
    } else {
      out += c;
    }
  }
  return null;
}

// ---- contexts

/**
 * Per-stream context: override the callbacks you need; the defaults continue. A plugin that overrides
 * onRequestBody or onResponseBody also re-exports "./body-exports", or the host never calls them.
 */
export class Context {
  constructor(public id: u32, public root: RootContext) {}
  onRequestHeaders(headers: u32, endOfStream: bool): Action { return Action.Continue; }
  onRequestBody(size: usize, endOfStream: bool): Action { return Action.Continue; }
  onRequestTrailers(trailers: u32): Action { return Action.Continue; }
  onResponseHeaders(headers: u32, endOfStream: bool): Action { return Action.Continue; }
  onResponseBody(size: usize, endOfStream: bool): Action { return Action.Continue; }
  onResponseTrailers(trailers: u32): Action { return Action.Continue; }
  onNewConnection(): Action { return Action.Continue; }
  onDownstreamData(size: usize, endOfStream: bool): Action { return Action.Continue; }
  onUpstreamData(size: usize, endOfStream: bool): Action { return Action.Continue; }
  onDownstreamClose(peer: u32): void {}
  onUpstreamClose(peer: u32): void {}
  onHttpCallResponse(callId: u32, headers: u32, bodySize: usize, trailers: u32): void {}
  onLog(): void {}
  onDone(): bool { return true; }
  onDelete(): void {}
}

/** The plugin (root) context: configuration, ticks, queues, and the factory for stream contexts. */
export class RootContext {
  configuration: string = "";
  constructor(public id: u32) {}
  onVmStart(size: usize): bool { return true; }
  onConfigure(size: usize): bool {
    const buf = getBuffer(BufferType.PluginConfiguration, 0, size);
    this.configuration = buf === null ? "" : str(buf);
    return true;
  }
  onTick(): void {}
  onQueueReady(queueId: u32): void {}
  onHttpCallResponse(callId: u32, headers: u32, bodySize: usize, trailers: u32): void {}
  onDone(): bool { return true; }
  onDelete(): void {}
  createContext(id: u32): Context { return new Context(id, this); }
}

export let rootFactory: (id: u32) => RootContext = (id: u32): RootContext => new RootContext(id);

export function registerRoot(factory: (id: u32) => RootContext): void {
  rootFactory = factory;
}

/** Called on `abort` (a failed assertion or an uncaught error): log it, then trap. */
export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const m = message === null ? "abort" : message;
  const f = fileName === null ? "?" : fileName;
  log(LogLevel.Critical, m + " at " + f + ":" + line.toString() + ":" + column.toString());
  unreachable();
}
