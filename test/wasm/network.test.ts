// NETWORK (L4) plugins: stream contexts with connection and data callbacks (ABI v0.2.1 "TCP streams";
// policy.md §5 `type: NETWORK`).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WasmPluginHost } from "../../src/dataplane/wasm/host.js";
import type { FailStrategy } from "../../src/dataplane/wasm/types.js";
import { buildAllPlugins, pluginBytes } from "./helpers.js";

describe("NETWORK plugins", () => {
  const host = new WasmPluginHost();
  const load = async (failStrategy: FailStrategy = "FAIL_CLOSE") =>
    host.loadPlugin({
      name: `ns/tcp-${failStrategy}`,
      bytes: await pluginBytes("probe"),
      type: "NETWORK",
      failStrategy,
      log: () => {},
    });

  before(async () => {
    await buildAllPlugins();
  });
  after(() => host.close());

  test("a new connection sees its attributes as properties", async () => {
    const plugin = await load();
    const conn = plugin.newStreamContext({ "source.address": "10.0.0.9:5555" });
    assert.equal(conn.onNewConnection(), "continue");
    assert.equal(Buffer.from(host.sharedData("conn-source")!).toString(), "10.0.0.9:5555");
    plugin.close();
  });

  test("downstream data is buffered while paused and rewritten; upstream data gets a prefix", async () => {
    const plugin = await load();
    const conn = plugin.newStreamContext();
    conn.onNewConnection();
    assert.equal(conn.onDownstreamData(Buffer.from("ab"), false), "pause");
    assert.equal(conn.paused, true);
    assert.equal(conn.onDownstreamData(Buffer.from("cd"), false), "continue");
    assert.equal(Buffer.from(conn.takeDownstreamData()).toString(), "ABCD");
    assert.equal(conn.onUpstreamData(Buffer.from("pong"), false), "continue");
    assert.equal(Buffer.from(conn.takeUpstreamData()).toString(), "up:pong");
    plugin.close();
  });

  test("proxy_close_stream from a data callback closes the connection", async () => {
    const plugin = await load();
    const conn = plugin.newStreamContext();
    assert.equal(conn.onDownstreamData(Buffer.from("quit"), false), "close");
    plugin.close();
  });

  test("close events reach the plugin with the peer type, then the context is finished", async () => {
    const plugin = await load();
    const conn = plugin.newStreamContext();
    conn.onDownstreamClose("remote");
    conn.onUpstreamClose("local");
    assert.equal(Buffer.from(host.sharedData("closed-down")!).toString(), "2");
    assert.equal(Buffer.from(host.sharedData("closed-up")!).toString(), "1");
    await conn.finish();
    assert.equal(plugin.liveContexts(), 0);
    plugin.close();
  });

  test("a trap closes the connection under FAIL_CLOSE and passes data under FAIL_OPEN", async () => {
    const closing = await load("FAIL_CLOSE");
    assert.equal(closing.newStreamContext().onDownstreamData(Buffer.from("trap"), false), "close");
    assert.equal(closing.newStreamContext().onNewConnection(), "close");
    closing.close();
    const open = await load("FAIL_OPEN");
    assert.equal(open.newStreamContext().onDownstreamData(Buffer.from("trap"), false), "continue");
    assert.equal(open.newStreamContext().onNewConnection(), "continue");
    open.close();
  });

  test("a closed plugin refuses new contexts", async () => {
    const plugin = await load();
    plugin.close();
    assert.throws(() => plugin.newStreamContext(), { code: "AMBIT_WASM_CLOSED" });
  });

  test("asking a NETWORK plugin for an HTTP context is a type error", async () => {
    const plugin = await load();
    assert.throws(() => plugin.newHttpContext(), { code: "AMBIT_WASM_TYPE" });
    plugin.close();
  });
});
