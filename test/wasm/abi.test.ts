// Host function families of the proxy-wasm ABI v0.2.1, driven through the probe test plugin
// (examples/wasm/testdata/probe.ts). Spec: policy.md §5.1 and the ABI's sections named in each test.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { HeaderMap } from "../../src/dataplane/wasm/header-map.js";
import { headerValue } from "../../src/dataplane/wasm/header-map.js";
import { WasmPluginHost } from "../../src/dataplane/wasm/host.js";
import type { LoadPluginOptions, Plugin } from "../../src/dataplane/wasm/types.js";
import { buildAllPlugins, captureLog, pluginBytes, request } from "./helpers.js";

const FIXED_NOW = 1_700_000_000_123_456_789n;

function results(req: HeaderMap): Record<string, string> {
  return Object.fromEntries(req.filter(([k]) => k.startsWith("x-r-")).map(([k, v]) => [k.slice(4), v]));
}

const hexOf = (s: string) => Buffer.from(s).toString("hex");
const int64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b.toString("hex");
};

describe("proxy-wasm host functions (probe plugin)", () => {
  const host = new WasmPluginHost();
  const log = captureLog();
  let plugin: Plugin;
  const open = (extra: Partial<LoadPluginOptions> = {}) =>
    pluginBytes("probe").then((bytes) =>
      host.loadPlugin({
        name: "ns/probe",
        rootId: "probe-root",
        bytes,
        pluginConfig: { mode: "test" },
        vmConfig: "vm-config-text",
        vmEnv: { POD_NAME: "p1", LEVEL: "7" },
        properties: { "node.metadata.CLUSTER_ID": "Kubernetes" },
        clock: { nowNanos: () => FIXED_NOW, monotonicNanos: () => 5n },
        log: log.sink,
        logLevel: "info",
        ...extra,
      }),
    );
  const run = (ops: string, extra: HeaderMap = [], attrs = {}) => {
    const ctx = plugin.newHttpContext(attrs);
    const req = request("/probe?q=1", [["x-op", ops], ...extra]);
    const action = ctx.onRequestHeaders(req, false);
    return { ctx, req, action, r: results(req) };
  };

  before(async () => {
    await buildAllPlugins();
    plugin = await open();
  });
  after(() => host.close());

  // ABI "Configuration": VM_CONFIGURATION in proxy_on_vm_start, PLUGIN_CONFIGURATION in proxy_on_configure.
  test("vm and plugin configuration buffers carry vmConfig and the JSON pluginConfig", () => {
    const { r } = run("vmconfig");
    assert.equal(r.vmconfig, "vm-config-text");
    assert.equal(r.config, '{"mode":"test"}');
  });

  // ABI "Properties": NUL-separated paths; strings UTF-8, integers int64 LE, booleans one byte (Envoy's encoding).
  test("properties come from the context attributes, the request headers and the plugin", () => {
    const paths = [
      "source.address",
      "source.port",
      "connection.mtls",
      "source.principal",
      "connection.uri_san_peer_certificate",
      "request.path",
      "request.url_path",
      "request.method",
      "request.host",
      "request.headers.x-op",
      "plugin_name",
      "plugin_root_id",
      "node.metadata.CLUSTER_ID",
      "destination.port",
      "no.such.thing",
    ];
    const attrs = {
      "source.address": "10.1.2.3",
      "source.port": 40000,
      "connection.mtls": true,
      "source.principal": "spiffe://cluster.local/ns/a/sa/b",
    };
    const { r } = run("props", [["x-props", paths.join(",")]], attrs);
    assert.equal(r["prop-source.address"], hexOf("10.1.2.3"));
    assert.equal(r["prop-source.port"], int64(40000));
    assert.equal(r["prop-connection.mtls"], "01");
    assert.equal(r["prop-source.principal"], hexOf("spiffe://cluster.local/ns/a/sa/b"));
    assert.equal(r["prop-connection.uri_san_peer_certificate"], hexOf("spiffe://cluster.local/ns/a/sa/b"));
    assert.equal(r["prop-request.path"], hexOf("/probe?q=1"));
    assert.equal(r["prop-request.url_path"], hexOf("/probe"));
    assert.equal(r["prop-request.method"], hexOf("GET"));
    assert.equal(r["prop-request.host"], hexOf("svc.ns"));
    assert.equal(r["prop-request.headers.x-op"], hexOf("props"));
    assert.equal(r["prop-plugin_name"], hexOf("ns/probe"));
    assert.equal(r["prop-plugin_root_id"], hexOf("probe-root"));
    // The plugin reports through headers, and added header names are lower-cased.
    assert.equal(r["prop-node.metadata.cluster_id"], hexOf("Kubernetes"));
    assert.equal(r["prop-destination.port"], "NOT_FOUND");
    assert.equal(r["prop-no.such.thing"], "NOT_FOUND");
  });

  test("proxy_set_property stores a value the same context reads back", () => {
    assert.equal(run("setprop").r.setprop, "v1");
  });

  // ABI "HTTP fields": pairs, set pairs, replace, remove and size act on the chain's own header map object.
  test("header map functions edit the caller's header map in place", () => {
    const { req, r } = run("pairs,replace,remove,size", [
      ["x-replace", "old"],
      ["x-replace", "dup"],
      ["x-remove", "gone"],
    ]);
    // request() has 4 pseudo headers + x-op + 3 extra + x-r-headers written before the ops ran.
    assert.equal(r.count, "9");
    assert.equal(headerValue(req, "x-set-pairs"), "1");
    assert.deepEqual(
      req.filter(([k]) => k === "x-replace"),
      [["x-replace", "new"]],
    );
    assert.equal(headerValue(req, "x-remove"), undefined);
    assert.ok(Number(r.size) > 100);
  });

  test("on_request_headers receives the number of headers", () => {
    assert.equal(run("size").r.headers, "5");
  });

  // ABI "Shared Key-Value Store": CAS 0 always writes, a stale CAS gets CAS_MISMATCH (8), missing keys NOT_FOUND (1).
  test("shared data honours compare-and-swap", () => {
    const { r } = run("shared", [["x-shared-value", "hello"]]);
    assert.equal(r.shared, "hello/cas");
    assert.equal(r["cas-wrong"], "8");
    assert.equal(r["cas-right"], "0");
    assert.equal(r.missing, "1");
    assert.equal(Buffer.from(host.sharedData("probe-key")!).toString(), "y");
  });

  // ABI "Shared Queues": enqueue calls proxy_on_queue_ready on the registering root context.
  test("shared queues deliver items to proxy_on_queue_ready", async () => {
    const { r } = run("queue", [["x-queue-value", "item-1"]]);
    assert.equal(r.enqueue, "0");
    assert.equal(r.resolve, "true");
    assert.equal(r["resolve-missing"], "0");
    assert.equal(r["enqueue-missing"], "1");
    await new Promise((res) => setImmediate(res));
    assert.equal(Buffer.from(host.sharedData("queue-got")!).toString(), "item-1");
  });

  // ABI "Metrics": gauges take records and signed increments; counters refuse decrements (BAD_ARGUMENT).
  test("metrics: gauge, counter and histogram semantics, exposed by host.metrics()", () => {
    const { r } = run("metric");
    assert.equal(r.gauge, "40");
    assert.equal(r["counter-neg"], "2");
    assert.equal(r.counter, "3");
    assert.equal(r.redefine, "0");
    const byName = Object.fromEntries(host.metrics().map((m) => [m.fullName, m]));
    assert.equal(byName.probe_gauge?.value, 40);
    assert.equal(byName.probe_counter?.kind, "counter");
    assert.equal(byName.probe_hist?.histogram?.count, 1);
    assert.equal(byName.probe_hist?.histogram?.sum, 7);
    assert.equal(byName.probe_hist?.histogram?.buckets.find((b) => b.le === 10)?.count, 1);
    assert.equal(byName.probe_hist?.histogram?.buckets.find((b) => b.le === 5)?.count, 0);
  });

  // ABI "Clocks", "Randomness", "Environment variables": from the injected clock, crypto, and vmEnv only.
  test("clock, randomness and environment come from the host's clock, crypto and vmEnv", () => {
    const { r } = run("time,random,env");
    assert.equal(r.time, FIXED_NOW.toString());
    assert.equal(r["wasi-time"], FIXED_NOW.toString());
    assert.equal(r["wasi-clock-bad"], "58");
    assert.match(r.random ?? "", /^[0-9a-f]{32}$/);
    assert.notEqual(r.random, "0".repeat(32));
    assert.equal(r.env, "POD_NAME=p1;LEVEL=7");
  });

  // ABI "Logging": proxy_log honours the level; fd_write goes to the log (stdout info, stderr error).
  test("logging: proxy_log, proxy_get_log_level and WASI fd_write", () => {
    log.lines.length = 0;
    const { r } = run("log");
    assert.deepEqual(log.lines, [
      { level: "info", message: "probe-info" },
      { level: "info", message: "probe-stdout" },
      { level: "error", message: "probe-stderr" },
    ]);
    assert.equal(r["fd-bad"], "8");
    assert.equal(r.loglevel, "2");
  });

  test("a bad guest pointer yields INVALID_MEMORY_ACCESS, not a host crash", () => {
    assert.equal(run("badptr").r.badptr, "6");
    assert.equal(plugin.failed, undefined);
  });

  test("imports the host does not implement are stubbed with UNIMPLEMENTED, typed per signature", () => {
    const { r } = run("unknown");
    assert.equal(r.unknown, "12");
    assert.equal(r.unknown64, "12");
  });

  // ABI "HTTP": proxy_send_local_response during a callback; a gRPC status is passed through, -1 means none.
  test("local responses carry status, body, headers and an optional gRPC status", () => {
    const teapot = run("local").action;
    assert.ok(typeof teapot === "object" && "localResponse" in teapot);
    assert.equal(teapot.localResponse.status, 418);
    assert.equal(teapot.localResponse.grpcStatus, undefined);
    const grpc = run("local-grpc").action;
    assert.ok(typeof grpc === "object" && "localResponse" in grpc);
    assert.equal(grpc.localResponse.grpcStatus, 16);
    assert.equal(run("close").action, "close");
  });

  test("proxy_http_call without :path/:authority is refused with BAD_ARGUMENT", () => {
    assert.equal(run("call-bad").r.call, "0");
  });

  // ABI "HTTP calls": the response's headers, body and status reach proxy_on_http_call_response; a timeout
  // delivers zero headers.
  test("http call responses and timeouts reach the issuing context", async () => {
    const calls: string[] = [];
    const answering = await open({
      name: "ns/probe-call",
      hostCalls: {
        httpCall: async (upstream, headers, _body, _trailers, timeoutMs) => {
          calls.push(`${upstream} ${headers.map(([k, v]) => `${k}=${v}`).join(" ")} ${timeoutMs}`);
          return { headers: [[":status", "201"]], body: Buffer.from("made"), trailers: [] };
        },
      },
    });
    const ok = answering.newHttpContext();
    const req = request("/", [["x-op", "call"]]);
    assert.equal(ok.onRequestHeaders(req, true), "pause");
    assert.equal(await ok.resumed, "continue");
    assert.deepEqual(calls, ["cluster :method=GET :path=/x :authority=a 50"]);
    const r = results(req);
    assert.equal(r.call, "ok");
    assert.equal(r["call-headers"], "1");
    assert.equal(r["call-status"], "201");
    assert.equal(r["call-body"], "made");
    answering.close();

    const silent = await open({ name: "ns/probe-silent", hostCalls: { httpCall: () => new Promise(() => {}) } });
    const late = silent.newHttpContext();
    const req2 = request("/", [["x-op", "call"]]);
    assert.equal(late.onRequestHeaders(req2, true), "pause");
    assert.equal(await late.resumed, "continue");
    assert.equal(results(req2)["call-headers"], "0");
    assert.equal(results(req2)["call-status"], "0");
    silent.close();
  });

  // ABI "Timers" + proxy_set_effective_context: a tick resumes, answers or resets a paused request.
  test("a tick can resume, answer or close a request paused earlier", async () => {
    const ticking = await open({ name: "ns/probe-tick", pluginConfig: { tick: "5" } });
    const runOn = (ops: string) => {
      const ctx = ticking.newHttpContext();
      const req = request("/", [["x-op", ops]]);
      return { ctx, req, action: ctx.onRequestHeaders(req, true) };
    };
    const a = runOn("pause-tick");
    assert.equal(a.action, "pause");
    assert.equal(await a.ctx.resumed, "continue");
    assert.equal(headerValue(a.req, "x-resumed-by"), "tick");
    const b = runOn("local-tick");
    const local = await b.ctx.resumed;
    assert.ok(typeof local === "object" && "localResponse" in local);
    assert.equal(local.localResponse.status, 429);
    assert.deepEqual(local.localResponse.headers, [["x-from", "tick"]]);
    const c = runOn("close-tick");
    assert.equal(await c.ctx.resumed, "close");
    ticking.close();
  });

  // ABI "Context lifecycle": on_done false defers finalisation until proxy_done; then on_log, on_delete.
  test("proxy_on_done returning false waits for proxy_done before on_log and on_delete", async () => {
    const ticking = await open({ name: "ns/probe-done", pluginConfig: { tick: "5" } });
    const ctx = ticking.newHttpContext();
    const req = request("/deferred", [["x-op", "defer-done"]]);
    assert.equal(ctx.onRequestHeaders(req, true), "continue");
    ctx.onResponseHeaders([[":status", "204"]], true);
    const finishing = ctx.finish();
    assert.equal(ticking.liveContexts(), 1);
    await finishing;
    assert.equal(ticking.liveContexts(), 0);
    assert.equal(Buffer.from(host.sharedData("last-log")!).toString(), "/deferred 204");
    assert.equal(Buffer.from(host.sharedData("deleted")!).toString(), String(ctx.id));
    ticking.close();
  });

  // ABI "Buffers": body callbacks see the buffered size; set_buffer_bytes replaces, or appends with start = size.
  test("request and response bodies are buffered while paused and rewritten by the plugin", () => {
    const ctx = plugin.newHttpContext();
    ctx.onRequestHeaders(request("/"), false);
    assert.equal(ctx.onRequestBody(Buffer.from("hello "), false), "pause");
    assert.equal(ctx.onRequestBody(Buffer.from("world"), true), "continue");
    assert.equal(Buffer.from(ctx.takeRequestBody()).toString(), "HELLO WORLD");
    assert.deepEqual(ctx.addedRequestTrailers, [["x-added-trailer", "11"]]);
    assert.equal(ctx.takeRequestBody().length, 0);
    const res: HeaderMap = [[":status", "200"]];
    assert.equal(ctx.onResponseHeaders(res, false), "continue");
    assert.deepEqual(res, [
      [":status", "200"],
      ["x-probe-response", "1"],
    ]);
    assert.equal(ctx.onResponseBody(Buffer.from("body"), true), "continue");
    assert.equal(Buffer.from(ctx.takeResponseBody()).toString(), "body!");
    ctx.delete();
  });

  test("trailers are handed to the plugin and edited in place", () => {
    const ctx = plugin.newHttpContext();
    ctx.onRequestHeaders(request("/"), false);
    const reqTrailers: HeaderMap = [["x-checksum", "abc"]];
    assert.equal(ctx.onRequestTrailers(reqTrailers), "continue");
    assert.deepEqual(reqTrailers, [
      ["x-checksum", "abc"],
      ["x-trailers-seen", "1"],
    ]);
    const resTrailers: HeaderMap = [
      ["grpc-status", "13"],
      ["grpc-message", "x"],
    ];
    assert.equal(ctx.onResponseTrailers(resTrailers), "continue");
    assert.deepEqual(resTrailers, [
      ["grpc-status", "0"],
      ["grpc-message", "x"],
    ]);
    ctx.delete();
  });

  // ABI v0.2.0: the 0.2.0 marker is detected and proxy_continue_request resumes the request.
  test("ABI 0.2.0 modules run, with proxy_continue_request and wasi_unstable imports", async () => {
    const l = captureLog();
    const old = await host.loadPlugin({ name: "ns/abi020", bytes: await pluginBytes("abi020"), log: l.sink });
    assert.equal(old.abiVersion, "0.2.0");
    const ctx = old.newHttpContext();
    assert.equal(ctx.onRequestHeaders(request("/"), true), "pause");
    assert.equal(await ctx.resumed, "continue");
    assert.deepEqual(l.lines, [{ level: "info", message: "resuming" }]);
    old.close();
  });
});
