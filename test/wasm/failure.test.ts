// Plugin failures (policy.md §5 failStrategy): a trap fails the plugin; FAIL_CLOSE answers 500 for the request and
// the following ones, FAIL_OPEN skips the plugin, FAIL_RELOAD starts a new VM. Loading errors are AMBIT_WASM_LOAD.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WasmPluginHost } from "../../src/dataplane/wasm/host.js";
import type { FailStrategy, HttpAction } from "../../src/dataplane/wasm/types.js";
import { buildAllPlugins, captureLog, pluginBytes, request } from "./helpers.js";

function status(a: HttpAction): number | string {
  return typeof a === "object" ? a.localResponse.status : a;
}

describe("failure strategies", () => {
  const host = new WasmPluginHost();
  const load = async (failStrategy: FailStrategy) => {
    const log = captureLog();
    const plugin = await host.loadPlugin({
      name: `ns/${failStrategy}`,
      bytes: await pluginBytes("probe"),
      failStrategy,
      log: log.sink,
    });
    return { plugin, log };
  };
  const send = (plugin: Awaited<ReturnType<typeof load>>["plugin"], op: string) =>
    plugin.newHttpContext().onRequestHeaders(request("/", [["x-op", op]]), true);

  before(async () => {
    await buildAllPlugins();
  });
  after(() => host.close());

  test("FAIL_CLOSE: a trap answers 500 now and for later requests, and the failure is logged", async () => {
    const { plugin, log } = await load("FAIL_CLOSE");
    assert.equal(status(send(plugin, "size")), "continue");
    const failed = send(plugin, "trap");
    assert.equal(status(failed), 500);
    assert.ok(typeof failed === "object" && failed.localResponse.details === "wasm_fail_stream");
    assert.ok(plugin.failed instanceof Error);
    assert.equal(status(send(plugin, "size")), 500);
    assert.equal(log.lines.filter((l) => l.level === "error").length, 1);
    plugin.close();
  });

  test("FAIL_CLOSE: after the 500, the same request's response callbacks pass through", async () => {
    const { plugin } = await load("FAIL_CLOSE");
    const ctx = plugin.newHttpContext();
    assert.equal(status(ctx.onRequestHeaders(request("/", [["x-op", "trap"]]), true)), 500);
    const res: Array<[string, string]> = [[":status", "500"]];
    assert.equal(ctx.onResponseHeaders(res, true), "continue");
    assert.deepEqual(res, [[":status", "500"]]);
    plugin.close();
  });

  test("FAIL_OPEN: a trap skips the plugin for this request and the following ones", async () => {
    const { plugin } = await load("FAIL_OPEN");
    assert.equal(send(plugin, "trap"), "continue");
    const req = request("/", [["x-op", "size"]]);
    assert.equal(plugin.newHttpContext().onRequestHeaders(req, true), "continue");
    assert.equal(
      req.some(([k]) => k.startsWith("x-r-")),
      false,
    );
    plugin.close();
  });

  test("an AssemblyScript abort (uncaught error) is a trap too, and its message is logged", async () => {
    const { plugin, log } = await load("FAIL_CLOSE");
    assert.equal(status(send(plugin, "abort")), 500);
    assert.ok(log.lines.some((l) => l.level === "critical" && l.message.includes("probe abort")));
    plugin.close();
  });

  test("FAIL_RELOAD: the failing request gets 500, the next one runs on a fresh VM", async () => {
    const { plugin } = await load("FAIL_RELOAD");
    assert.equal(status(send(plugin, "trap")), 500);
    const req = request("/", [["x-op", "size"]]);
    assert.equal(plugin.newHttpContext().onRequestHeaders(req, true), "continue");
    assert.ok(req.some(([k]) => k === "x-r-size"));
    assert.equal(plugin.failed, undefined);
    plugin.close();
  });

  test("a trap in another request resolves requests the dead VM had paused", async () => {
    const closed = await load("FAIL_CLOSE");
    const paused = closed.plugin.newHttpContext();
    assert.equal(paused.onRequestHeaders(request("/", [["x-op", "pause"]]), true), "pause");
    send(closed.plugin, "trap");
    assert.equal(status(await paused.resumed), 500);
    closed.plugin.close();

    const open = await load("FAIL_OPEN");
    const waiting = open.plugin.newHttpContext();
    waiting.onRequestHeaders(request("/", [["x-op", "pause"]]), true);
    send(open.plugin, "trap");
    assert.equal(await waiting.resumed, "continue");
    open.plugin.close();
  });
});

describe("load failures", () => {
  const host = new WasmPluginHost();
  after(() => host.close());

  test("bytes that are not Wasm are rejected with AMBIT_WASM_LOAD", async () => {
    await assert.rejects(host.loadPlugin({ name: "ns/garbage", bytes: Buffer.from("not wasm at all") }), {
      code: "AMBIT_WASM_LOAD",
    });
  });

  test("a valid module without a proxy_abi_version export is rejected with AMBIT_WASM_LOAD", async () => {
    const empty = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
    await assert.rejects(host.loadPlugin({ name: "ns/empty", bytes: empty }), (e: Error & { code?: string }) => {
      return e.code === "AMBIT_WASM_LOAD" && /proxy_abi_version/.test(e.message);
    });
  });

  test("a module rejecting its configuration is rejected with AMBIT_WASM_LOAD", async () => {
    await buildAllPlugins();
    await assert.rejects(
      host.loadPlugin({ name: "ns/reject", bytes: await pluginBytes("probe"), pluginConfig: { reject: "yes" } }),
      { code: "AMBIT_WASM_LOAD" },
    );
  });

  test("asking an HTTP plugin for a stream context is a type error", async () => {
    const plugin = await host.loadPlugin({ name: "ns/http", bytes: await pluginBytes("add-header") });
    assert.throws(() => plugin.newStreamContext(), { code: "AMBIT_WASM_TYPE" });
    plugin.close();
  });
});
