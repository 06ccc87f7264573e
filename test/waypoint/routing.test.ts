import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { HTTPRoute } from "../../src/api/resources.js";
import { RouteTable } from "../../src/dataplane/waypoint/routes.js";
import { config, type Mesh, service, startMesh } from "./harness.js";

const REVIEWS = "10.96.0.10:9080";

function route(name: string, rules: Array<Record<string, unknown>>, creationTimestamp?: string): HTTPRoute {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: "default", creationTimestamp },
    spec: { parentRefs: [{ kind: "Service", group: "", name: "reviews", port: 9080 }], rules },
  };
}

// Gateway API HTTPRoute matching precedence (GAMMA parentRefs to a Service).
describe("route table", () => {
  const svc = { namespace: "default", name: "reviews" };
  it("Exact beats the longest PathPrefix, which beats a shorter one; prefixes match whole segments", () => {
    const t = RouteTable.compile(
      [
        route("a", [
          { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "root", port: 9080 }] },
          { matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [{ name: "api", port: 9080 }] },
          { matches: [{ path: { type: "Exact", value: "/api/v1" } }], backendRefs: [{ name: "exact", port: 9080 }] },
        ]),
      ],
      svc,
      9080,
    );
    const to = (path: string) => t.match({ method: "GET", path, headers: {} })?.backends[0]?.service;
    assert.equal(to("/api/v1"), "default/exact");
    assert.equal(to("/api/v1/x"), "default/api");
    assert.equal(to("/api"), "default/api");
    assert.equal(to("/apix"), "default/root");
  });

  it("method, then header count, then query count break ties; headers, query and regex must all match", () => {
    const t = RouteTable.compile(
      [
        route("b", [
          { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "plain" }] },
          { matches: [{ headers: [{ name: "x-user", value: "jason" }] }], backendRefs: [{ name: "jason" }] },
          { matches: [{ method: "POST" }], backendRefs: [{ name: "post" }] },
          {
            matches: [{ queryParams: [{ name: "v", type: "RegularExpression", value: "[0-9]+" }] }],
            backendRefs: [{ name: "q" }],
          },
          { matches: [{ path: { type: "RegularExpression", value: "/re/[a-z]+" } }], backendRefs: [{ name: "re" }] },
        ]),
      ],
      svc,
      9080,
    );
    const to = (method: string, path: string, headers = {}) => t.match({ method, path, headers })?.backends[0]?.service;
    assert.equal(to("GET", "/x", { "x-user": "jason" }), "default/jason");
    assert.equal(to("POST", "/x", { "x-user": "jason" }), "default/post");
    assert.equal(to("GET", "/x?v=12"), "default/q");
    assert.equal(to("GET", "/x?v=ab"), "default/plain");
    assert.equal(to("GET", "/re/abc"), "default/plain");
  });

  it("a route for another port or service does not attach", () => {
    const other = route("c", [{ backendRefs: [{ name: "x" }] }]);
    other.spec!.parentRefs = [{ kind: "Service", group: "", name: "ratings" }];
    assert.equal(RouteTable.compile([other], svc, 9080).empty, true);
    assert.equal(RouteTable.compile([route("d", [{ backendRefs: [{ name: "x" }] }])], svc, 9081).empty, true);
  });
});

describe("waypoint routing", () => {
  let mesh: Mesh;

  before(async () => {
    mesh = await startMesh(["reviews-v1", "reviews-v2", "reviews-v3"], {
      outlier: { consecutive5xx: 5, baseEjectionMs: 30_000 },
    });
  });

  after(() => mesh.close());

  const [v1, v2, v3] = [0, 1, 2];
  const podsOf = (...idx: number[]) => idx.map((i) => mesh.pods[i]!);

  it("HTTPRoute weights split 90/10 within ±5% over 2,000 requests", async () => {
    await mesh.waypoint.configure(
      config(
        [
          service("reviews", "10.96.0.10", podsOf(v1, v2, v3)),
          service("reviews-v1", "10.96.1.1", podsOf(v1)),
          service("reviews-v2", "10.96.1.2", podsOf(v2)),
        ],
        {
          httpRoutes: [
            route("split", [
              {
                backendRefs: [
                  { name: "reviews-v1", port: 9080, weight: 90 },
                  { name: "reviews-v2", port: 9080, weight: 10 },
                ],
              },
            ]),
          ],
        },
      ),
    );
    const counts: Record<string, number> = {};
    for (let batch = 0; batch < 40; batch++) {
      const replies = await Promise.all(Array.from({ length: 50 }, () => mesh.get(REVIEWS, "/r")));
      for (const r of replies) {
        assert.equal(r.status, 200);
        const pod = JSON.parse(r.body).pod as string;
        counts[pod] = (counts[pod] ?? 0) + 1;
      }
    }
    assert.equal(counts["reviews-v3"], undefined);
    const share = (counts["reviews-v1"] ?? 0) / 2000;
    assert.ok(Math.abs(share - 0.9) <= 0.05, `v1 share ${share}`);
  });

  it("header modifiers and a route timeout apply (504 upstream request timeout)", async () => {
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", podsOf(v1)), service("reviews-v1", "10.96.1.1", podsOf(v1))], {
        httpRoutes: [
          route("mods", [
            {
              matches: [{ path: { type: "PathPrefix", value: "/slow" } }],
              timeouts: { request: "100ms" },
              backendRefs: [{ name: "reviews-v1", port: 9080 }],
            },
            {
              filters: [
                {
                  type: "RequestHeaderModifier",
                  requestHeaderModifier: { set: [{ name: "x-set", value: "1" }], remove: ["x-drop"] },
                },
                {
                  type: "ResponseHeaderModifier",
                  responseHeaderModifier: { add: [{ name: "x-added", value: "yes" }] },
                },
              ],
              backendRefs: [{ name: "reviews-v1", port: 9080 }],
            },
          ]),
        ],
      }),
    );
    const r = await mesh.get(REVIEWS, "/m", { headers: { "x-drop": "a", "x-keep": "b" } });
    const seen = JSON.parse(r.body).headers;
    assert.equal(seen["x-set"], "1");
    assert.equal(seen["x-drop"], undefined);
    assert.equal(seen["x-keep"], "b");
    assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.equal(r.headers["x-added"], "yes");
    mesh.pods[v1]!.behaviour.delayMs = 400;
    try {
      const slow = await mesh.get(REVIEWS, "/slow");
      assert.equal(slow.status, 504);
      assert.equal(slow.body, "upstream request timeout");
    } finally {
      mesh.pods[v1]!.behaviour.delayMs = 0;
    }
  });

  it("retries (Istio default: 2 on 503) hide a failing endpoint; 5 consecutive 5xx eject it", async () => {
    await mesh.waypoint.configure(config([service("reviews", "10.96.0.10", podsOf(v2, v3))]));
    const bad = mesh.pods[v3]!;
    bad.behaviour.status = 503;
    bad.hits = 0;
    try {
      for (let i = 0; i < 40; i++) {
        const r = await mesh.get(REVIEWS, "/x");
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).pod, "reviews-v2");
      }
      // Ejected after its fifth 503: no request reached it afterwards.
      assert.equal(bad.hits, 5);
    } finally {
      bad.behaviour.status = 200;
    }
  });

  it("with every endpoint failing the client gets the last 503 after the retries", async () => {
    await mesh.waypoint.configure(config([service("reviews", "10.96.0.10", podsOf(v1))]));
    const pod = mesh.pods[v1]!;
    pod.behaviour.status = 503;
    pod.hits = 0;
    try {
      const r = await mesh.get(REVIEWS, "/x");
      assert.equal(r.status, 503);
      assert.equal(pod.hits, 3);
    } finally {
      pod.behaviour.status = 200;
    }
  });

  it("an unreachable endpoint is a connect failure, retried on another endpoint", async () => {
    const gone = { ...mesh.pods[v1]!.endpoint(), address: "127.77.0.99", name: "gone-abcdef123-zzzzz" };
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", podsOf(v2), { endpoints: [gone, mesh.pods[v2]!.endpoint()] })]),
    );
    for (let i = 0; i < 6; i++) assert.equal((await mesh.get(REVIEWS, "/x")).status, 200);
  });
});
