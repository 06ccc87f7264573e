// Test plugin: each request names operations in `x-op` (comma-separated); the plugin runs them against the
// host and writes results back as `x-r-*` request headers, so a test can exercise every host function family.

import {
  Action, addHeader, BufferType, bufferSize, callStatus, closeStream, Context, continueStream, defineMetric, dequeue, done,
  enqueue, getBuffer, getHeader, getHeaders, getMetric, getProperty, getSharedData, Header, headerMapSize,
  httpCall, incrementMetric, jsonString, log, LogLevel, logLevel, MapType, MetricType, nowNanos, recordMetric,
  registerQueue, registerRoot, removeHeader, replaceHeader, resolveQueue, RootContext, sendLocalResponse,
  setBuffer, setEffectiveContext, setHeaders, setProperty, setSharedData, setTickPeriod, str, StreamType,
} from "../sdk/index";
import { proxy_log } from "../sdk/imports";

export * from "../sdk/exports";
export * from "../sdk/body-exports";

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, written: usize): u32;
@external("wasi_snapshot_preview1", "clock_time_get")
declare function clock_time_get(id: u32, precision: u64, ret: usize): u32;
@external("wasi_snapshot_preview1", "random_get")
declare function random_get(ptr: usize, len: usize): u32;
@external("wasi_snapshot_preview1", "environ_sizes_get")
declare function environ_sizes_get(count: usize, size: usize): u32;
@external("wasi_snapshot_preview1", "environ_get")
declare function environ_get(array: usize, buf: usize): u32;
@external("env", "proxy_grpc_call")
declare function proxy_grpc_call(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize, g: usize, h: usize, i: usize, j: usize, k: u32, l: usize): u32;
@external("env", "probe_unknown_i64")
declare function probe_unknown_i64(): i64;

const SCRATCH: usize = memory.data(64);

function hex(buf: ArrayBuffer): string {
  const digits = "0123456789abcdef";
  let out = "";
  const p = changetype<usize>(buf);
  for (let i = 0; i < buf.byteLength; i++) {
    const b = load<u8>(p + i);
    out += digits.charAt(b >> 4) + digits.charAt(b & 15);
  }
  return out;
}

function upper(buf: ArrayBuffer): ArrayBuffer {
  const out = new ArrayBuffer(buf.byteLength);
  const s = changetype<usize>(buf);
  const d = changetype<usize>(out);
  for (let i = 0; i < buf.byteLength; i++) {
    const c = load<u8>(s + i);
    store<u8>(d + i, c >= 97 && c <= 122 ? c - 32 : c);
  }
  return out;
}

function result(name: string, value: string): void {
  addHeader(MapType.HttpRequestHeaders, "x-r-" + name, value);
}

function writeFd(fd: u32, text: string): u32 {
  const b = String.UTF8.encode(text);
  store<usize>(SCRATCH, changetype<usize>(b));
  store<usize>(SCRATCH + 4, b.byteLength);
  return fd_write(fd, SCRATCH, 1, SCRATCH + 8);
}

class ProbeRoot extends RootContext {
  vmConfig: string = "";
  queue: u32 = 0;
  pausedCtx: u32 = 0;
  pausedMode: string = "";
  deferredCtx: u32 = 0;
  ticks: u32 = 0;

  onVmStart(size: usize): bool {
    const b = getBuffer(BufferType.VmConfiguration, 0, size);
    this.vmConfig = b === null ? "" : str(b);
    return true;
  }

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    if (jsonString(this.configuration, "reject") !== null) return false;
    this.queue = registerQueue("probe-q");
    const tick = jsonString(this.configuration, "tick");
    if (tick !== null) setTickPeriod(<u32>I32.parseInt(tick));
    return true;
  }

  onTick(): void {
    this.ticks++;
    setSharedData("ticks", String.UTF8.encode(this.ticks.toString()));
    if (this.pausedCtx != 0) {
      const id = this.pausedCtx;
      this.pausedCtx = 0;
      setEffectiveContext(id);
      if (this.pausedMode == "local") {
        sendLocalResponse(429, "probe_tick", "slow down\n", [new Header("x-from", "tick")]);
      } else if (this.pausedMode == "close") {
        closeStream(StreamType.HttpRequest);
      } else {
        addHeader(MapType.HttpRequestHeaders, "x-resumed-by", "tick");
        continueStream(StreamType.HttpRequest);
      }
    }
    if (this.deferredCtx != 0) {
      setEffectiveContext(this.deferredCtx);
      this.deferredCtx = 0;
      done();
    }
  }

  onQueueReady(queueId: u32): void {
    const item = dequeue(queueId);
    if (item !== null) setSharedData("queue-got", item);
  }

  createContext(id: u32): Context {
    return new Probe(id, this);
  }
}

class Probe extends Context {
  deferDone: bool = false;

  onRequestHeaders(headers: u32, endOfStream: bool): Action {
    const root = this.root as ProbeRoot;
    const opHeader = getHeader(MapType.HttpRequestHeaders, "x-op");
    if (opHeader === null) return Action.Continue;
    const ops = opHeader.split(",");
    result("headers", headers.toString());
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op == "props") {
        const list = getHeader(MapType.HttpRequestHeaders, "x-props");
        const paths = list === null ? new Array<string>() : list.split(",");
        for (let j = 0; j < paths.length; j++) {
          const v = getProperty(paths[j]);
          result("prop-" + paths[j], v === null ? "NOT_FOUND" : hex(v));
        }
      } else if (op == "setprop") {
        setProperty("wasm.probe", String.UTF8.encode("v1"));
        const v = getProperty("wasm.probe");
        result("setprop", v === null ? "NOT_FOUND" : str(v));
      } else if (op == "pairs") {
        const all = getHeaders(MapType.HttpRequestHeaders);
        all.push(new Header("x-set-pairs", "1"));
        setHeaders(MapType.HttpRequestHeaders, all);
        result("count", (all.length - 1).toString());
      } else if (op == "replace") {
        replaceHeader(MapType.HttpRequestHeaders, "x-replace", "new");
      } else if (op == "remove") {
        removeHeader(MapType.HttpRequestHeaders, "x-remove");
      } else if (op == "size") {
        result("size", headerMapSize(MapType.HttpRequestHeaders).toString());
      } else if (op == "shared") {
        const value = getHeader(MapType.HttpRequestHeaders, "x-shared-value");
        setSharedData("probe-key", String.UTF8.encode(value === null ? "" : value));
        const got = getSharedData("probe-key");
        result("shared", (got.value === null ? "" : str(got.value!)) + "/" + (got.cas > 0 ? "cas" : "nocas"));
        result("cas-wrong", setSharedData("probe-key", String.UTF8.encode("x"), got.cas + 100).toString());
        result("cas-right", setSharedData("probe-key", String.UTF8.encode("y"), got.cas).toString());
        result("missing", getSharedData("no-such-key").status.toString());
      } else if (op == "queue") {
        const value = getHeader(MapType.HttpRequestHeaders, "x-queue-value");
        result("enqueue", enqueue(root.queue, String.UTF8.encode(value === null ? "" : value)).toString());
        result("resolve", (resolveQueue("", "probe-q") == root.queue).toString());
        result("resolve-missing", resolveQueue("", "no-such-queue").toString());
        result("enqueue-missing", enqueue(9999, String.UTF8.encode("x")).toString());
      } else if (op == "metric") {
        const g = defineMetric(MetricType.Gauge, "probe_gauge");
        recordMetric(g, 42);
        incrementMetric(g, -2);
        result("gauge", getMetric(g).toString());
        const h = defineMetric(MetricType.Histogram, "probe_hist");
        recordMetric(h, 7);
        const c = defineMetric(MetricType.Counter, "probe_counter");
        incrementMetric(c, 3);
        result("counter-neg", incrementMetric(c, -1).toString());
        result("counter", getMetric(c).toString());
        result("redefine", defineMetric(MetricType.Gauge, "probe_counter").toString());
      } else if (op == "time") {
        result("time", nowNanos().toString());
        clock_time_get(0, 0, SCRATCH);
        result("wasi-time", load<u64>(SCRATCH).toString());
        result("wasi-clock-bad", clock_time_get(9, 0, SCRATCH).toString());
      } else if (op == "env") {
        environ_sizes_get(SCRATCH, SCRATCH + 4);
        const count = load<u32>(SCRATCH);
        const size = load<u32>(SCRATCH + 4);
        const array = heap.alloc(count * 4 + 4);
        const buf = heap.alloc(size + 1);
        environ_get(array, buf);
        let all = "";
        for (let j: u32 = 0; j < count; j++) {
          const p = load<usize>(array + j * 4);
          let n: usize = 0;
          while (load<u8>(p + n) != 0) n++;
          all += (j > 0 ? ";" : "") + String.UTF8.decodeUnsafe(p, n);
        }
        heap.free(array);
        heap.free(buf);
        result("env", all);
      } else if (op == "random") {
        random_get(SCRATCH, 16);
        const b = new ArrayBuffer(16);
        memory.copy(changetype<usize>(b), SCRATCH, 16);
        result("random", hex(b));
      } else if (op == "log") {
        log(LogLevel.Info, "probe-info");
        log(LogLevel.Debug, "probe-debug");
        writeFd(1, "probe-stdout\n");
        writeFd(2, "probe-stderr\n");
        result("fd-bad", writeFd(7, "x").toString());
        result("loglevel", logLevel().toString());
      } else if (op == "badptr") {
        result("badptr", proxy_log(2, 0xfffffff0, 100).toString());
      } else if (op == "unknown") {
        result("unknown", proxy_grpc_call(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SCRATCH).toString());
        result("unknown64", probe_unknown_i64().toString());
      } else if (op == "vmconfig") {
        result("vmconfig", root.vmConfig);
        result("config", root.configuration);
      } else if (op == "trap") {
        unreachable();
      } else if (op == "abort") {
        throw new Error("probe abort");
      } else if (op == "pause-tick" || op == "local-tick" || op == "close-tick") {
        root.pausedCtx = this.id;
        root.pausedMode = op == "local-tick" ? "local" : op == "close-tick" ? "close" : "continue";
        return Action.Pause;
      } else if (op == "pause") {
        return Action.Pause;
      } else if (op == "local") {
        sendLocalResponse(418, "probe_local", "teapot\n", [new Header("x-local", "1")]);
        return Action.Pause;
      } else if (op == "local-grpc") {
        sendLocalResponse(200, "probe_grpc", "", [], 16);
      } else if (op == "close") {
        closeStream(StreamType.HttpRequest);
      } else if (op == "defer-done") {
        this.deferDone = true;
      } else if (op == "call-bad") {
        result("call", httpCall("cluster", [new Header(":method", "GET")], "", [], 100).toString());
      } else if (op == "call") {
        const id = httpCall("cluster", [new Header(":method", "GET"), new Header(":path", "/x"), new Header(":authority", "a")], "", [], 50);
        result("call", id > 0 ? "ok" : "refused");
        return Action.Pause;
      }
    }
    return Action.Continue;
  }

  onHttpCallResponse(callId: u32, headers: u32, bodySize: usize, trailers: u32): void {
    addHeader(MapType.HttpRequestHeaders, "x-r-call-headers", headers.toString());
    addHeader(MapType.HttpRequestHeaders, "x-r-call-status", callStatus().toString());
    const body = getBuffer(BufferType.HttpCallResponseBody, 0, bodySize);
    addHeader(MapType.HttpRequestHeaders, "x-r-call-body", body === null ? "" : str(body));
    continueStream(StreamType.HttpRequest);
  }

  onRequestBody(size: usize, endOfStream: bool): Action {
    if (!endOfStream) return Action.Pause;
    const body = getBuffer(BufferType.HttpRequestBody, 0, size);
    if (body !== null) setBuffer(BufferType.HttpRequestBody, 0, size, upper(body));
    addHeader(MapType.HttpRequestTrailers, "x-added-trailer", bufferSize(BufferType.HttpRequestBody).toString());
    return Action.Continue;
  }

  onRequestTrailers(trailers: u32): Action {
    addHeader(MapType.HttpRequestTrailers, "x-trailers-seen", trailers.toString());
    return Action.Continue;
  }

  onResponseHeaders(headers: u32, endOfStream: bool): Action {
    addHeader(MapType.HttpResponseHeaders, "x-probe-response", headers.toString());
    return Action.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): Action {
    setBuffer(BufferType.HttpResponseBody, size, 0, String.UTF8.encode("!"));
    return Action.Continue;
  }

  onResponseTrailers(trailers: u32): Action {
    replaceHeader(MapType.HttpResponseTrailers, "grpc-status", "0");
    return Action.Continue;
  }

  onNewConnection(): Action {
    const src = getProperty("source.address");
    setSharedData("conn-source", src === null ? new ArrayBuffer(0) : src);
    return Action.Continue;
  }

  onDownstreamData(size: usize, endOfStream: bool): Action {
    if (size < 4 && !endOfStream) return Action.Pause;
    const data = getBuffer(BufferType.DownstreamData, 0, size);
    if (data === null) return Action.Continue;
    if (str(data) == "trap") unreachable();
    if (str(data) == "quit") {
      closeStream(StreamType.Downstream);
      return Action.Continue;
    }
    setBuffer(BufferType.DownstreamData, 0, size, upper(data));
    return Action.Continue;
  }

  onUpstreamData(size: usize, endOfStream: bool): Action {
    setBuffer(BufferType.UpstreamData, 0, 0, String.UTF8.encode("up:"));
    return Action.Continue;
  }

  onDownstreamClose(peer: u32): void {
    setSharedData("closed-down", String.UTF8.encode(peer.toString()));
  }

  onUpstreamClose(peer: u32): void {
    setSharedData("closed-up", String.UTF8.encode(peer.toString()));
  }

  onLog(): void {
    const path = getHeader(MapType.HttpRequestHeaders, ":path");
    const status = getHeader(MapType.HttpResponseHeaders, ":status");
    setSharedData("last-log", String.UTF8.encode((path === null ? "-" : path) + " " + (status === null ? "-" : status)));
  }

  onDone(): bool {
    if (!this.deferDone) return true;
    (this.root as ProbeRoot).deferredCtx = this.id;
    return false;
  }

  onDelete(): void {
    setSharedData("deleted", String.UTF8.encode(this.id.toString()));
  }
}

registerRoot((id: u32): RootContext => new ProbeRoot(id));
