// NETWORK (L4) WasmPlugins in the waypoint's TCP path (policy.md §5 `type: NETWORK`): real waypoint, real HBONE,
// a TCP echo app behind each pod's HboneServer.

import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { WasmPlugin } from "../../src/api/resources.js";
import type { WaypointWasm } from "../../src/dataplane/waypoint/wasm/index.js";
import type { WaypointService } from "../../src/xds/waypoint-config.js";
import { config, type Mesh } from "./harness.js";
import { startWasmMesh, wasmPlugin } from "./wasm-harness.js";

const REVIEWS_TCP = "10.96.0.10:9000";
const RATINGS_TCP = "10.96.0.11:9000";
const REVIEWS_HTTP = "10.96.0.10:9080";
const WRONG_SHA = "0".repeat(64);

let urls: Record<string, string> = {};

function plugin(name: string, wasm: string, spec: Record<string, unknown>): WasmPlugin {
  return wasmPlugin(name, urls[wasm], { type: "NETWORK", ...spec });
}

interface Outcome {
  data: string;
  /** The tunnel ended with END_STREAM (false: reset or aborted). */
  ended: boolean;
  rstCode: number | undefined;
}

/** Everything the tunnel yields until it closes, and how it closed. */
async function outcome(t: Duplex): Promise<Outcome> {
  let data = "";
  let ended = false;
  t.on("data", (d: Buffer) => {
    data += d.toString();
  });
  t.once("end", () => {
    ended = true;
  });
  // The client surfaces a reset as an error (AMBIT_HBONE_STREAM_RESET).
  t.on("error", () => {});
  if (!t.destroyed) await new Promise((r) => t.once("close", r));
  return { data, ended, rstCode: (t as Duplex & { rstCode?: number }).rstCode };
}

// A reset tunnel: RST_STREAM INTERNAL_ERROR, as the HTTP path's reset.
const RESET = 0x2;

describe("NETWORK WasmPlugins in the waypoint's TCP path", () => {
  let mesh: Mesh;
  let wasm: WaypointWasm;
  let services: WaypointService[];
  const logs: string[] = [];

  const apply = async (wasmPlugins: WasmPlugin[]) => {
    await mesh.waypoint.configure(config(services, { wasmPlugins }));
    await wasm.settled();
  };
  const send = async (target: string, ...chunks: string[]): Promise<Outcome> => {
    const t = await mesh.tunnel(target);
    const result = outcome(t);
    for (const c of chunks.slice(0, -1)) {
      t.write(c);
      await new Promise((r) => setTimeout(r, 20));
    }
    t.end(chunks.at(-1));
    return result;
  };

  before(async () => {
    ({ mesh, wasm, services, urls } = await startWasmMesh(logs));
  });

  after(async () => {
    await mesh.close();
    await wasm.close();
  });

  it("the plugin rewrites the client's bytes before they reach the server (echoed back)", async () => {
    await apply([plugin("upper", "tcp-uppercase", {})]);
    const r = await send(REVIEWS_TCP, "hello ", "tcp");
    assert.deepEqual(r, { data: "HELLO TCP", ended: true, rstCode: 0 });
  });

  it("pause holds the client's bytes until the plugin continues; server bytes pass on_upstream_data", async () => {
    // probe: pauses downstream data under 4 bytes, upper-cases it, prefixes every upstream callback with "up:".
    await apply([plugin("probe", "probe", {})]);
    const r = await send(REVIEWS_TCP, "ab", "cd");
    assert.equal(r.ended, true);
    assert.ok(r.data.startsWith("up:ABCD"), r.data);
    assert.equal(r.data.replaceAll("up:", ""), "ABCD");
    // on_new_connection saw the tunnel's peer address; both close callbacks ran with peer REMOTE (2).
    assert.equal(Buffer.from(wasm.host.sharedData("conn-source")!).toString(), "127.0.0.1");
    assert.equal(Buffer.from(wasm.host.sharedData("closed-down")!).toString(), "2");
    assert.equal(Buffer.from(wasm.host.sharedData("closed-up")!).toString(), "2");
  });

  it("a plugin's close resets the client and the bytes never reach the server", async () => {
    await apply([plugin("deny", "tcp-uppercase", { pluginConfig: { deny: "quit" } })]);
    const t = await mesh.tunnel(REVIEWS_TCP);
    const result = outcome(t);
    t.write("please quit");
    const r = await result;
    assert.deepEqual(r, { data: "", ended: false, rstCode: RESET });
    // Other data on a new connection still passes.
    assert.equal((await send(REVIEWS_TCP, "fine")).data, "FINE");
  });

  it("FAIL_CLOSE: a NETWORK plugin that cannot load resets the connections it covers before they reach the pod", async () => {
    await apply([plugin("bad-close", "tcp-uppercase", { sha256: WRONG_SHA })]);
    const hits = mesh.pods[0]!.hits;
    const r = await send(REVIEWS_TCP, "hello");
    assert.deepEqual(r, { data: "", ended: false, rstCode: RESET });
    assert.equal(mesh.pods[0]!.hits, hits);
    assert.ok(logs.some((l) => l.startsWith("error default/bad-close not loaded (FAIL_CLOSE)")));
  });

  it("FAIL_OPEN: the same broken plugin is skipped and the bytes pass unchanged", async () => {
    await apply([plugin("bad-open", "tcp-uppercase", { sha256: WRONG_SHA, failStrategy: "FAIL_OPEN" })]);
    assert.deepEqual(await send(REVIEWS_TCP, "hello"), { data: "hello", ended: true, rstCode: 0 });
  });

  it("a plugin that traps mid-connection: FAIL_CLOSE resets it, FAIL_OPEN lets the bytes pass", async () => {
    // probe traps on the downstream data "trap".
    await apply([plugin("trap-close", "probe", {})]);
    assert.deepEqual(await send(REVIEWS_TCP, "trap"), { data: "", ended: false, rstCode: RESET });
    await apply([plugin("trap-open", "probe", { failStrategy: "FAIL_OPEN" })]);
    assert.equal((await send(REVIEWS_TCP, "trap")).data.replaceAll("up:", ""), "trap");
  });

  it("a Service-targeted NETWORK plugin covers that service only; match ports limit it too", async () => {
    const toReviews = { targetRefs: [{ kind: "Service", group: "", name: "reviews" }] };
    await apply([plugin("svc", "tcp-uppercase", toReviews)]);
    assert.equal((await send(REVIEWS_TCP, "hello")).data, "HELLO");
    assert.equal((await send(RATINGS_TCP, "hello")).data, "hello");
    await apply([plugin("ports", "tcp-uppercase", { match: [{ ports: [{ number: 9080 }] }] })]);
    assert.equal((await send(REVIEWS_TCP, "hello")).data, "hello");
  });

  it("HTTP plugins and HTTP traffic are unaffected by NETWORK plugins", async () => {
    await apply([
      plugin("upper", "tcp-uppercase", {}),
      plugin("add", "add-header", { type: "HTTP", pluginConfig: { name: "x-wasm", value: "hello" } }),
    ]);
    const r = await mesh.get(REVIEWS_HTTP, "/lower/case", { method: "POST", body: "body text" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-wasm"], "hello");
    const echo = JSON.parse(r.body);
    assert.equal(echo.path, "/lower/case");
    assert.equal(echo.body, "body text");
    // The add-header plugin does not touch TCP; the NETWORK one still does.
    assert.equal((await send(REVIEWS_TCP, "tcp")).data, "TCP");
  });

  it("hot update: an open connection keeps its VM, new connections use the new one", async () => {
    await apply([plugin("hot", "tcp-uppercase", {})]);
    const old = await mesh.tunnel(REVIEWS_TCP);
    const oldResult = outcome(old);
    old.write("one ");
    await new Promise((r) => setTimeout(r, 20));
    await apply([plugin("hot", "tcp-uppercase", { pluginConfig: { deny: "two" } })]);
    // The new VM closes on "two"; the old connection's VM does not know that word.
    assert.deepEqual(await send(REVIEWS_TCP, "two"), { data: "", ended: false, rstCode: RESET });
    old.end("two");
    assert.deepEqual(await oldResult, { data: "ONE TWO", ended: true, rstCode: 0 });
  });
});
