import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { parse } from "yaml";
import type { WasmPlugin } from "../../src/api/resources.js";
import { readWasmPlugin, type WaypointWasm } from "../../src/dataplane/waypoint/wasm/index.js";
import type { WaypointService } from "../../src/xds/waypoint-config.js";
import { ap, config, GATEWAY_REF, type Mesh, service, WAYPOINT_ID } from "./harness.js";
import { startWasmMesh, wasmPlugin } from "./wasm-harness.js";

const REVIEWS = "10.96.0.10:9080";
const RATINGS = "10.96.0.11:9080";
const ISS = "https://issuer.test";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let urls: Record<string, string> = {};

function plugin(name: string, wasm: string, spec: Record<string, unknown>): WasmPlugin {
  return wasmPlugin(name, urls[wasm], spec);
}

const toReviews = { targetRefs: [{ kind: "Service", group: "", name: "reviews" }] };

// policy.md §5: WasmPlugins attached to a waypoint, run by its filter chain (§1.2 for where each phase sits).
describe("WasmPlugin in the waypoint", () => {
  let mesh: Mesh;
  let wasm: WaypointWasm;
  let services: WaypointService[];
  const logs: string[] = [];
  let key: CryptoKey;
  let jwk: JWK;

  const apply = (wasmPlugins: WasmPlugin[], extra: Parameters<typeof config>[1] = {}) =>
    mesh.waypoint.configure(config(services, { wasmPlugins, ...extra }));

  before(async () => {
    const pair = await generateKeyPair("ES256");
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    ({ mesh, wasm, services, urls } = await startWasmMesh(logs, ROOT));
  });

  after(async () => {
    await mesh.close();
    await wasm.close();
  });

  it("add-header: the plugin's response header reaches the client", async () => {
    await apply([plugin("add", "add-header", { pluginConfig: { name: "x-wasm", value: "hello" } })]);
    const r = await mesh.get(REVIEWS, "/");
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-wasm"], "hello");
    assert.equal(r.headers["x-pod"], "reviews-v1");
  });

  it("block-by-header: a matching request gets the plugin's local 403 and never reaches the pod", async () => {
    await apply([plugin("block", "block-by-header", { pluginConfig: { header: "x-block", value: "yes" } })]);
    const hits = mesh.pods[0]!.hits;
    const blocked = await mesh.get(REVIEWS, "/", { headers: { "x-block": "yes" } });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body, "blocked by policy\n");
    assert.equal(blocked.headers["x-blocked-by"], "wasm");
    assert.equal(mesh.pods[0]!.hits, hits);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-block": "no" } })).status, 200);
  });

  it("count-per-path: the plugin's counter is on the waypoint's /metrics with the path as a label", async () => {
    await apply([plugin("count", "count-per-path", { phase: "STATS" })]);
    for (const p of ["/count/a", "/count/a?x=1", "/count/b"]) assert.equal((await mesh.get(REVIEWS, p)).status, 200);
    const text = await (await fetch(`http://127.0.0.1:${mesh.waypoint.ports.metrics}/metrics`)).text();
    assert.match(text, /# TYPE count_per_path_requests_total counter/);
    assert.match(text, /count_per_path_requests_total\{path="\/count\/a"\} 2\n/);
    assert.match(text, /count_per_path_requests_total\{path="\/count\/b"\} 1\n/);
    // The waypoint's own metrics are still there.
    assert.match(text, /istio_requests_total\{/);
  });

  it("body callbacks: the plugin rewrites the request body and appends to the response body", async () => {
    // probe: buffers the request body to its end and upper-cases it; appends "!" to every response body callback.
    await apply([plugin("body", "probe", {})]);
    const r = await mesh.get(REVIEWS, "/body", { method: "POST", body: "hello wasm", headers: { "x-op": "none" } });
    assert.equal(r.status, 200);
    assert.match(r.body, /!$/);
    const echo = JSON.parse(r.body.replace(/!+$/, ""));
    assert.equal(echo.body, "HELLO WASM");
    // A body that may be resized travels chunked, without the client's content-length.
    assert.equal(echo.headers["content-length"], undefined);
    assert.equal(r.headers["content-length"], undefined);
    // The response header map the plugin saw: :status, content-type, x-pod, date (hop-by-hop ones are not forwarded).
    assert.equal(r.headers["x-probe-response"], "4");
    // No body: the request goes as it came, with no body callback.
    const get = await mesh.get(REVIEWS, "/nobody");
    assert.equal(JSON.parse(get.body.replace(/!+$/, "")).body, "");
  });

  it("a plugin without body callbacks: the request body reaches the pod as sent, with its content-length", async () => {
    await apply([plugin("noop", "noop", {})]);
    const r = await mesh.get(REVIEWS, "/body", { method: "POST", body: "hello wasm" });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.body);
    assert.equal(echo.body, "hello wasm");
    assert.equal(echo.headers["content-length"], "10");
    assert.equal(echo.headers["transfer-encoding"], undefined);
  });

  describe("http-call", () => {
    let tokens: Server;
    let tokenPort = 0;
    let calls = 0;
    before(async () => {
      tokens = createServer((req, res) => {
        calls++;
        setTimeout(() => res.end(` tok-${req.headers.host}-${req.url} `), 50);
      });
      await new Promise<void>((r) => tokens.listen(0, "127.0.0.1", () => r()));
      tokenPort = (tokens.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((r) => tokens.close(() => r())));

    it("pauses the request around a call to a plain address and resumes it with the answer", async () => {
      const cfg = { upstream: `127.0.0.1:${tokenPort}`, authority: "tokens.local", path: "/token", header: "x-token" };
      await apply([plugin("call", "http-call", { pluginConfig: cfg })]);
      const before = calls;
      const r = await mesh.get(REVIEWS, "/api");
      assert.equal(r.status, 200);
      assert.equal(calls, before + 1);
      assert.equal(JSON.parse(r.body).headers["x-token"], "tok-tokens.local-/token");
    });

    it("calls a mesh service by its cluster name over HBONE", async () => {
      const cfg = { upstream: "outbound|9080||ratings.default.svc.cluster.local", path: "/from-wasm", header: "x-r" };
      await apply([plugin("call-mesh", "http-call", { pluginConfig: cfg })]);
      const hits = mesh.pods[1]!.hits;
      const r = await mesh.get(REVIEWS, "/api");
      assert.equal(r.status, 200);
      assert.equal(mesh.pods[1]!.hits, hits + 1);
      const answer = JSON.parse(JSON.parse(r.body).headers["x-r"]);
      assert.equal(answer.pod, "ratings-v1");
      assert.equal(answer.path, "/from-wasm");
    });

    it("a failed call ends the paused request with the plugin's 503", async () => {
      const cfg = { upstream: "127.0.0.1:1", path: "/", header: "x-t" };
      await apply([plugin("call-bad", "http-call", { pluginConfig: cfg })]);
      const r = await mesh.get(REVIEWS, "/api");
      assert.equal(r.status, 503);
      assert.equal(r.body, "upstream call failed\n");
    });
  });

  it("runs by phase, then priority descending, unset priority last; response hooks in reverse (policy.md §5)", async () => {
    const add = (name: string, value: string, phase: string, priority?: number) =>
      plugin(name, "add-header", {
        phase,
        ...(priority === undefined ? {} : { priority }),
        pluginConfig: { name: "x-order", value },
      });
    await apply([
      add("o-unset", "d", "AUTHN"),
      add("o-stats", "c", "STATS", 100),
      add("o-low", "b", "AUTHN", 5),
      add("o-high", "a", "AUTHN", 10),
      add("o-authz", "z", "AUTHZ", -1000),
    ]);
    const r = await mesh.get(REVIEWS, "/");
    // Request order a, b, d (AUTHN), z (AUTHZ), c (STATS); the response passes them in reverse.
    assert.equal(r.headers["x-order"], "c, z, d, b, a");
  });

  it("local replies pass through the response hooks of the plugins that saw the request", async () => {
    await apply(
      [
        plugin("lr-early", "add-header", {
          phase: "AUTHN",
          priority: 10,
          pluginConfig: { name: "x-early", value: "1" },
        }),
        plugin("lr-block", "block-by-header", {
          phase: "AUTHN",
          priority: 5,
          pluginConfig: { header: "x-b", value: "y" },
        }),
        plugin("lr-late", "add-header", { phase: "STATS", pluginConfig: { name: "x-late", value: "1" } }),
      ],
      {
        authorizationPolicies: [
          ap("deny-x", { ...GATEWAY_REF, action: "DENY", rules: [{ to: [{ operation: { paths: ["/x"] } }] }] }),
        ],
      },
    );
    const byPlugin = await mesh.get(REVIEWS, "/", { headers: { "x-b": "y" } });
    assert.equal(byPlugin.status, 403);
    assert.equal(byPlugin.headers["x-early"], "1");
    assert.equal(byPlugin.headers["x-late"], undefined);
    assert.equal(byPlugin.headers["content-length"], String("blocked by policy\n".length));
    const byRbac = await mesh.get(REVIEWS, "/x");
    assert.equal(byRbac.body, "RBAC: access denied");
    assert.equal(byRbac.headers["x-early"], "1");
    assert.equal(byRbac.headers["x-late"], undefined);
    assert.equal((await mesh.get(REVIEWS, "/")).headers["x-late"], "1");
  });

  it("an AUTHN plugin runs before jwt_authn, an AUTHZ plugin after it (policy.md §1.2)", async () => {
    const block = (name: string, phase: string, header: string) =>
      plugin(name, "block-by-header", { phase, pluginConfig: { header, value: "yes" } });
    const jwt = {
      apiVersion: "security.istio.io/v1",
      kind: "RequestAuthentication",
      metadata: { name: "jwt", namespace: "default" },
      spec: { ...GATEWAY_REF, jwtRules: [{ issuer: ISS, jwks: JSON.stringify({ keys: [jwk] }) }] },
    };
    await apply([block("b-authn", "AUTHN", "x-authn"), block("b-authz", "AUTHZ", "x-authz")], {
      requestAuthentications: [jwt],
      authorizationPolicies: [
        ap("deny-admin", { ...GATEWAY_REF, action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] }),
      ],
    });
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISS)
      .setExpirationTime("1h")
      .sign(key);
    const bad = `${good.slice(0, good.lastIndexOf("."))}.${Buffer.alloc(64, 7).toString("base64url")}`;
    const authn = await mesh.get(REVIEWS, "/", { headers: { authorization: `Bearer ${bad}`, "x-authn": "yes" } });
    assert.equal(authn.status, 403);
    assert.equal(authn.body, "blocked by policy\n");
    const authz = await mesh.get(REVIEWS, "/", { headers: { authorization: `Bearer ${bad}`, "x-authz": "yes" } });
    assert.equal(authz.status, 401);
    assert.equal(authz.body, "Jwt verification fails");
    // AUTHZ plugins run before RBAC: the plugin's 403, not RBAC's.
    const rbac = await mesh.get(REVIEWS, "/admin", { headers: { "x-authz": "yes" } });
    assert.equal(rbac.body, "blocked by policy\n");
    assert.equal((await mesh.get(REVIEWS, "/admin")).body, "RBAC: access denied");
  });

  it("a Service-targeted plugin covers only that service's requests (policy.md §0, §5)", async () => {
    await apply([
      plugin("svc-add", "add-header", { ...toReviews, pluginConfig: { name: "x-svc", value: "reviews-only" } }),
      plugin("svc-block", "block-by-header", { ...toReviews, pluginConfig: { header: "x-block", value: "yes" } }),
    ]);
    const reviews = await mesh.get(REVIEWS, "/");
    assert.equal(reviews.headers["x-svc"], "reviews-only");
    const ratings = await mesh.get(RATINGS, "/");
    assert.equal(ratings.status, 200);
    assert.equal(ratings.headers["x-svc"], undefined);
    assert.equal((await mesh.get(REVIEWS, "/", { headers: { "x-block": "yes" } })).status, 403);
    assert.equal((await mesh.get(RATINGS, "/", { headers: { "x-block": "yes" } })).status, 200);
  });

  it("match: port selectors and mode; CLIENT never selects a waypoint (policy.md §5)", async () => {
    const add = (name: string, match: unknown[]) =>
      plugin(name, "add-header", { match, pluginConfig: { name: `x-${name}`, value: "1" } });
    await apply([
      add("m-9080", [{ ports: [{ number: 9080 }] }]),
      add("m-9081", [{ ports: [{ number: 9081 }] }]),
      add("m-server", [{ mode: "SERVER" }]),
      add("m-client", [{ mode: "CLIENT" }]),
    ]);
    const r = await mesh.get(REVIEWS, "/");
    assert.equal(r.headers["x-m-9080"], "1");
    assert.equal(r.headers["x-m-9081"], undefined);
    assert.equal(r.headers["x-m-server"], "1");
    assert.equal(r.headers["x-m-client"], undefined);
  });

  it("the bookinfo examples: a header on all traffic, blocking only on reviews, a count per path", async () => {
    const manifest = (f: string) => parse(readFileSync(`${ROOT}/examples/wasm/${f}.yaml`, "utf8")) as WasmPlugin;
    const [reviews, ratings] = mesh.pods;
    const bookinfo = [
      service("reviews", "10.96.0.10", [reviews!], { namespace: "bookinfo" }),
      service("ratings", "10.96.0.11", [ratings!], { namespace: "bookinfo" }),
    ];
    await mesh.waypoint.configure(
      config(bookinfo, {
        waypoint: { namespace: "bookinfo", name: "waypoint", identity: WAYPOINT_ID, trafficType: "service" },
        wasmPlugins: ["add-header", "block-by-header", "count-per-path"].map(manifest),
      }),
    );
    const r = await mesh.get(RATINGS, "/ratings/0");
    assert.equal(r.headers["x-wasm"], "bookinfo");
    assert.equal((await mesh.get(RATINGS, "/ratings/0", { headers: { "x-block": "yes" } })).status, 200);
    const blocked = await mesh.get(REVIEWS, "/reviews/0", { headers: { "x-block": "yes" } });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body, "blocked by policy\n");
    const text = await (await fetch(`http://127.0.0.1:${mesh.waypoint.ports.metrics}/metrics`)).text();
    assert.match(text, /count_per_path_requests_total\{path="\/ratings\/0"\} 2\n/);
    // Blocked in AUTHN, before the STATS-phase counter.
    assert.doesNotMatch(text, /path="\/reviews\/0"/);
  });

  it("vmConfig.env: INLINE sets the value, HOST copies the proxy's variable, an unset HOST one is left out", async () => {
    const spec = readSpecFor({
      vmConfig: {
        env: [
          { name: "A", value: "x" },
          { name: "HOME", valueFrom: "HOST" },
          { name: "NOPE_X", valueFrom: "HOST" },
        ],
      },
      pluginName: "root",
    });
    assert.deepEqual(spec.vmEnv, { A: "x", HOME: "/home/t" });
    assert.equal(spec.pluginName, "root");
  });
});

function readSpecFor(spec: Record<string, unknown>) {
  return readWasmPlugin(
    { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "e", namespace: "ns" }, spec },
    { HOME: "/home/t" },
  );
}
