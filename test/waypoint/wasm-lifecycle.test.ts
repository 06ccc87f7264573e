import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { WasmPlugin } from "../../src/api/resources.js";
import type { WaypointWasm } from "../../src/dataplane/waypoint/wasm/index.js";
import type { WaypointService } from "../../src/xds/waypoint-config.js";
import { config, type Mesh } from "./harness.js";
import { startWasmMesh, wasmPlugin } from "./wasm-harness.js";

const REVIEWS = "10.96.0.10:9080";
const RATINGS = "10.96.0.11:9080";
const WRONG_SHA = "0".repeat(64);

let urls: Record<string, string> = {};

function plugin(name: string, wasm: string, spec: Record<string, unknown>): WasmPlugin {
  return wasmPlugin(name, urls[wasm], spec);
}

// policy.md §5 failStrategy, and config updates that must not drop traffic.
describe("WasmPlugin failures and hot updates in the waypoint", () => {
  let mesh: Mesh;
  let wasm: WaypointWasm;
  let services: WaypointService[];
  const logs: string[] = [];

  const apply = (wasmPlugins: WasmPlugin[]) => mesh.waypoint.configure(config(services, { wasmPlugins }));

  before(async () => {
    ({ mesh, wasm, services, urls } = await startWasmMesh(logs));
  });

  after(async () => {
    await mesh.close();
    await wasm.close();
  });

  it("FAIL_CLOSE: a module whose sha256 does not match answers 500 for the requests it covers, and only those", async () => {
    await apply([
      plugin("bad-close", "add-header", {
        sha256: WRONG_SHA,
        targetRefs: [{ kind: "Service", group: "", name: "reviews" }],
      }),
    ]);
    assert.equal(mesh.waypoint.ready, true);
    const hits = mesh.pods[0]!.hits;
    const r = await mesh.get(REVIEWS, "/");
    assert.equal(r.status, 500);
    assert.equal(mesh.pods[0]!.hits, hits);
    assert.equal((await mesh.get(RATINGS, "/")).status, 200);
    assert.ok(logs.some((l) => l.includes("default/bad-close") && l.includes("does not match the expected")));
    assert.ok(logs.some((l) => l.startsWith("error default/bad-close not loaded (FAIL_CLOSE)")));
  });

  it("FAIL_OPEN: the same broken module is skipped and traffic flows", async () => {
    await apply([
      plugin("bad-open", "add-header", { sha256: WRONG_SHA, failStrategy: "FAIL_OPEN", pluginConfig: { name: "x-a" } }),
    ]);
    const r = await mesh.get(REVIEWS, "/");
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-a"], undefined);
    assert.ok(logs.some((l) => l.startsWith("error default/bad-open not loaded (FAIL_OPEN)")));
  });

  it("FAIL_CLOSE: a plugin that traps answers 500, for that request and the ones after it", async () => {
    await apply([plugin("trap-close", "probe", {})]);
    assert.equal((await mesh.get(REVIEWS, "/")).status, 200);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-op": "trap" } })).status, 500);
    assert.equal((await mesh.get(REVIEWS, "/")).status, 500);
  });

  it("FAIL_OPEN: a plugin that traps is skipped from then on", async () => {
    await apply([plugin("trap-open", "probe", { failStrategy: "FAIL_OPEN" })]);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-op": "trap" } })).status, 200);
    assert.equal((await mesh.get(REVIEWS, "/")).status, 200);
  });

  it("hot update: a changed plugin replaces the old VM in the background; no request in flight fails", async () => {
    const v = (value: string) => plugin("hot", "add-header", { pluginConfig: { name: "x-version", value } });
    await apply([v("one")]);
    mesh.pods[0]!.behaviour.delayMs = 5;
    const seen: string[] = [];
    const statuses: number[] = [];
    let swapped = false;
    const worker = async () => {
      for (let i = 0; i < 40; i++) {
        const r = await mesh.get(REVIEWS, `/hot/${i}`);
        statuses.push(r.status);
        seen.push(String(r.headers["x-version"]));
        if (i === 10 && !swapped) {
          swapped = true;
          await apply([v("two")]);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await wasm.settled();
    mesh.pods[0]!.behaviour.delayMs = 0;
    assert.equal(statuses.length, 160);
    assert.ok(statuses.every((s) => s === 200));
    assert.deepEqual([...new Set(seen)].sort(), ["one", "two"]);
    // Once the new VM is in, nothing runs on the old one.
    assert.equal(seen.at(-1), "two");
    assert.equal((await mesh.get(REVIEWS, "/")).headers["x-version"], "two");
  });

  describe("requests paused in the old VM", () => {
    let slow: Server;
    let port = 0;
    before(async () => {
      slow = createServer((_req, res) => setTimeout(() => res.end("answer"), 300));
      await new Promise<void>((r) => slow.listen(0, "127.0.0.1", () => r()));
      port = (slow.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((r) => slow.close(() => r())));

    it("finish on the old VM after the swap (the old VM closes only when they are done)", async () => {
      const call = (header: string) =>
        plugin("paused", "http-call", { pluginConfig: { upstream: `127.0.0.1:${port}`, path: "/", header } });
      await apply([call("x-old")]);
      const inflight = Array.from({ length: 5 }, () => mesh.get(REVIEWS, "/paused"));
      await new Promise((r) => setTimeout(r, 50));
      await apply([call("x-new")]);
      await wasm.settled();
      const fresh = await mesh.get(REVIEWS, "/paused");
      const done = await Promise.all(inflight);
      for (const r of done) {
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).headers["x-old"], "answer");
      }
      assert.equal(fresh.status, 200);
      assert.equal(JSON.parse(fresh.body).headers["x-new"], "answer");
      assert.equal(JSON.parse(fresh.body).headers["x-old"], undefined);
    });
  });

  it("an update that fails to load applies the new spec's strategy; the waypoint keeps serving", async () => {
    const good = plugin("upd", "add-header", { pluginConfig: { name: "x-upd", value: "1" } });
    await apply([good]);
    assert.equal((await mesh.get(REVIEWS, "/")).headers["x-upd"], "1");
    await apply([{ ...good, spec: { ...good.spec, sha256: WRONG_SHA, failStrategy: "FAIL_OPEN" } }]);
    await wasm.settled();
    const open = await mesh.get(REVIEWS, "/");
    assert.equal(open.status, 200);
    assert.equal(open.headers["x-upd"], undefined);
    await apply([{ ...good, spec: { ...good.spec, sha256: WRONG_SHA } }]);
    await wasm.settled();
    assert.equal((await mesh.get(REVIEWS, "/")).status, 500);
    assert.equal(mesh.waypoint.ready, true);
  });

  it("a plugin removed from the config no longer runs", async () => {
    await apply([plugin("gone", "block-by-header", { pluginConfig: { header: "x-block", value: "yes" } })]);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-block": "yes" } })).status, 403);
    await apply([]);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-block": "yes" } })).status, 200);
  });
});
