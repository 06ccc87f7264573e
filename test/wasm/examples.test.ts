// The example plugins running in the host: each one exercises a family of host functions end to end.
// Spec: policy.md §5 (WasmPlugin pluginConfig → proxy_on_configure) and §5.1 (proxy-wasm ABI v0.2.1).

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { headerValue } from "../../src/dataplane/wasm/header-map.js";
import { WasmPluginHost } from "../../src/dataplane/wasm/host.js";
import { buildAllPlugins, captureLog, close, listen, nodeHttpCalls, pluginBytes, request } from "./helpers.js";

describe("example plugins", () => {
  const host = new WasmPluginHost();
  before(async () => {
    await buildAllPlugins();
  });
  after(() => host.close());

  // §5: pluginConfig is JSON-serialised and read in proxy_on_configure (PLUGIN_CONFIGURATION buffer).
  test("add-header adds the configured response header and leaves the request alone", async () => {
    const plugin = await host.loadPlugin({
      name: "default/add-header",
      bytes: await pluginBytes("add-header"),
      pluginConfig: { name: "x-hello", value: "world" },
    });
    assert.equal(plugin.abiVersion, "0.2.1");
    const ctx = plugin.newHttpContext();
    const req = request("/");
    assert.equal(ctx.onRequestHeaders(req, true), "continue");
    assert.deepEqual(req, request("/"));
    const res: Array<[string, string]> = [[":status", "200"]];
    assert.equal(ctx.onResponseHeaders(res, false), "continue");
    assert.deepEqual(res, [
      [":status", "200"],
      ["x-hello", "world"],
    ]);
    await ctx.finish();
    assert.equal(plugin.liveContexts(), 0);
    plugin.close();
  });

  // §5.1: proxy_send_local_response replaces forwarding; its status, body, headers and details reach the chain.
  test("block-by-header answers 403 locally only when the header has the configured value", async () => {
    const plugin = await host.loadPlugin({
      name: "default/block",
      bytes: await pluginBytes("block-by-header"),
      pluginConfig: { header: "x-block", value: "yes" },
    });
    const blocked = plugin.newHttpContext().onRequestHeaders(request("/", [["x-block", "yes"]]), true);
    assert.ok(typeof blocked === "object" && "localResponse" in blocked);
    const local = blocked.localResponse;
    assert.equal(local.status, 403);
    assert.equal(Buffer.from(local.body).toString(), "blocked by policy\n");
    assert.equal(local.details, "blocked_by_wasm_plugin");
    assert.deepEqual(local.headers, [
      ["content-type", "text/plain"],
      ["x-blocked-by", "wasm"],
    ]);
    assert.equal(local.grpcStatus, undefined);
    assert.equal(plugin.newHttpContext().onRequestHeaders(request("/", [["x-block", "no"]]), true), "continue");
    assert.equal(plugin.newHttpContext().onRequestHeaders(request("/"), true), "continue");
    plugin.close();
  });

  // §5.1: proxy_define_metric / proxy_increment_metric; values are exposed by the host for Prometheus export.
  test("count-per-path counts requests per path (query stripped) in a tagged counter", async () => {
    const metricsHost = new WasmPluginHost();
    const plugin = await metricsHost.loadPlugin({ name: "default/count", bytes: await pluginBytes("count-per-path") });
    for (const path of ["/a", "/a?x=1", "/b", "/a"]) {
      const ctx = plugin.newHttpContext();
      assert.equal(ctx.onRequestHeaders(request(path), true), "continue");
      ctx.delete();
    }
    const metrics = metricsHost.metrics().map((m) => [m.name, m.labels, m.kind, m.value]);
    assert.deepEqual(metrics, [
      ["count_per_path_requests_total", { path: "/a" }, "counter", 3],
      ["count_per_path_requests_total", { path: "/b" }, "counter", 1],
    ]);
    metricsHost.close();
  });

  // §5.1: proxy_http_call pauses the request; proxy_on_http_call_response resumes it with proxy_continue_stream.
  test("http-call pauses the request, calls the upstream, then resumes with the answer in a header", async () => {
    let seen: http.IncomingHttpHeaders | undefined;
    const server = http.createServer((req, res) => {
      seen = req.headers;
      res.end("token-123\n");
    });
    const port = await listen(server);
    try {
      const plugin = await host.loadPlugin({
        name: "default/http-call",
        bytes: await pluginBytes("http-call"),
        pluginConfig: { upstream: `127.0.0.1:${port}`, authority: "tokens.local", path: "/token", header: "x-token" },
        hostCalls: nodeHttpCalls,
      });
      const ctx = plugin.newHttpContext();
      const req = request("/");
      assert.equal(ctx.onRequestHeaders(req, true), "pause");
      assert.equal(ctx.paused, true);
      assert.equal(await ctx.resumed, "continue");
      assert.equal(ctx.paused, false);
      assert.equal(headerValue(req, "x-token"), "token-123");
      assert.equal(seen?.host, "tokens.local");
      ctx.delete();
      plugin.close();
    } finally {
      await close(server);
    }
  });

  test("http-call answers 503 when the upstream cannot be reached", async () => {
    const server = http.createServer();
    const port = await listen(server);
    await close(server);
    const plugin = await host.loadPlugin({
      name: "default/http-call-down",
      bytes: await pluginBytes("http-call"),
      pluginConfig: { upstream: `127.0.0.1:${port}` },
      hostCalls: nodeHttpCalls,
    });
    const ctx = plugin.newHttpContext();
    assert.equal(ctx.onRequestHeaders(request("/"), true), "pause");
    const resumed = await ctx.resumed;
    assert.ok(typeof resumed === "object" && "localResponse" in resumed);
    assert.equal(resumed.localResponse.status, 503);
    plugin.close();
  });

  test("http-call's response after the context was deleted is dropped", async () => {
    const log = captureLog();
    let respond: (() => void) | undefined;
    const plugin = await host.loadPlugin({
      name: "default/http-call-late",
      bytes: await pluginBytes("http-call"),
      pluginConfig: { upstream: "cluster" },
      log: log.sink,
      hostCalls: {
        httpCall: () =>
          new Promise((resolve) => {
            respond = () => resolve({ headers: [[":status", "200"]], body: Buffer.from("late"), trailers: [] });
          }),
      },
    });
    const ctx = plugin.newHttpContext();
    assert.equal(ctx.onRequestHeaders(request("/"), true), "pause");
    ctx.delete();
    assert.equal(await ctx.resumed, "close");
    respond?.();
    await new Promise((r) => setImmediate(r));
    assert.equal(plugin.failed, undefined);
    assert.deepEqual(log.lines, []);
    plugin.close();
  });

  test("a plugin whose proxy_on_configure rejects its configuration fails to load with AMBIT_WASM_LOAD", async () => {
    await assert.rejects(
      host.loadPlugin({ name: "default/block-bad", bytes: await pluginBytes("block-by-header"), pluginConfig: {} }),
      (e: Error & { code?: string }) => e.code === "AMBIT_WASM_LOAD" && /proxy_on_configure/.test(e.message),
    );
  });
});
