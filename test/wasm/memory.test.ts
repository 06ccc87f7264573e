// Memory stays bounded: 100,000 requests through a plugin must not grow the guest's linear memory or the host
// heap (host→guest buffers are freed by the guest, contexts are deleted, the guest's GC runs).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { WasmPluginHost } from "../../src/dataplane/wasm/host.js";
import type { Plugin } from "../../src/dataplane/wasm/types.js";
import { buildAllPlugins, pluginBytes, realisticRequest } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function requests(plugin: Plugin, n: number): void {
  for (let i = 0; i < n; i++) {
    const ctx = plugin.newHttpContext({ "source.address": "10.0.0.1" });
    const req = realisticRequest();
    if (ctx.onRequestHeaders(req, true) !== "continue") throw new Error("unexpected action");
    const res: Array<[string, string]> = [
      [":status", "200"],
      ["content-type", "text/html"],
    ];
    ctx.onResponseHeaders(res, false);
    ctx.onResponseBody(Buffer.from("<html></html>"), true);
    ctx.takeResponseBody();
    ctx.onDone();
    ctx.onLog();
    ctx.delete();
  }
}

describe("memory over 100,000 requests", () => {
  const host = new WasmPluginHost();
  before(async () => {
    await buildAllPlugins();
  });
  after(() => host.close());

  test("guest memory and host heap stay bounded (add-header)", async () => {
    const plugin = await host.loadPlugin({
      name: "ns/add-header",
      bytes: await pluginBytes("add-header"),
      pluginConfig: { name: "x-wasm", value: "v" },
    });
    requests(plugin, 10_000);
    const guestBefore = plugin.memoryBytes();
    const heapBefore = heapAfterGc();
    requests(plugin, 100_000);
    const heapAfter = heapAfterGc();
    assert.equal(plugin.memoryBytes(), guestBefore, "linear memory grew");
    assert.ok(heapAfter - heapBefore < 4 * 1024 * 1024, `host heap grew by ${heapAfter - heapBefore} bytes`);
    assert.equal(plugin.liveContexts(), 0);
    plugin.close();
  });

  test("guest memory stays bounded when every request reads and rewrites headers (probe)", async () => {
    const plugin = await host.loadPlugin({ name: "ns/probe", bytes: await pluginBytes("probe") });
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const ctx = plugin.newHttpContext();
        const req = realisticRequest();
        req.push(["x-op", "pairs,size,replace"]);
        ctx.onRequestHeaders(req, true);
        ctx.delete();
      }
    };
    run(5_000);
    const guestBefore = plugin.memoryBytes();
    run(100_000);
    assert.ok(plugin.memoryBytes() <= guestBefore + 65536, `linear memory grew to ${plugin.memoryBytes()}`);
    plugin.close();
  });
});
