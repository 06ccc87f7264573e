import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Telemetry } from "../../src/api/resources.js";
import { compileExpr } from "../../src/dataplane/waypoint/expr.js";
import { continueTrace } from "../../src/dataplane/waypoint/tracing.js";
import { CLIENT_ID, config, type Mesh, service, startMesh } from "./harness.js";

const REVIEWS = "10.96.0.10:9080";

function telemetry(name: string, spec: Record<string, unknown>, namespace = "default"): Telemetry {
  return { apiVersion: "telemetry.istio.io/v1", kind: "Telemetry", metadata: { name, namespace }, spec };
}

/** Parses the Prometheus text format into samples. */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(mesh: Mesh) {
  const res = await fetch(`http://127.0.0.1:${mesh.waypoint.ports.metrics}/metrics`);
  assert.equal(res.status, 200);
  return parse(await res.text());
}

describe("CEL subset and trace context", () => {
  it("evaluates literals, attributes, map lookups, string() and comparisons", () => {
    const attrs = (p: readonly string[]) =>
      p.join(".") === "request.headers" ? { "x-user": "jason" } : p.join(".") === "response.code" ? 503 : undefined;
    assert.equal(compileExpr("'lit'")(attrs), "lit");
    assert.equal(compileExpr("request.headers['x-user']")(attrs), "jason");
    assert.equal(compileExpr("string(response.code)")(attrs), "503");
    assert.equal(compileExpr("response.code >= 400 && request.headers['x-user'] == 'jason'")(attrs), true);
    assert.throws(() => compileExpr("size(x) +"), { code: "AMBIT_WAYPOINT_CONFIG" });
  });

  it("keeps the caller's trace id and sampled flag; samples new traces at the given rate", () => {
    const incoming = `00-${"a".repeat(32)}-${"b".repeat(16)}-01`;
    const t = continueTrace(incoming, 0);
    assert.equal(t.traceId, "a".repeat(32));
    assert.equal(t.sampled, true);
    assert.notEqual(t.traceparent.split("-")[2], "b".repeat(16));
    assert.equal(continueTrace(undefined, 100).sampled, true);
    assert.equal(continueTrace(undefined, 0).sampled, false);
  });
});

// policy.md §4 and data-plane.md §6: waypoint metrics and Telemetry.
describe("waypoint telemetry", () => {
  let mesh: Mesh;

  before(async () => {
    mesh = await startMesh(["reviews-v1"]);
  });

  after(() => mesh.close());

  it("istio_requests_total and friends carry reporter=waypoint and Istio's labels (served on /metrics)", async () => {
    await mesh.waypoint.configure(config([service("reviews", "10.96.0.10", mesh.pods)]));
    for (let i = 0; i < 3; i++)
      assert.equal((await mesh.get(REVIEWS, "/m", { method: "POST", body: "12345" })).status, 200);
    const samples = await scrape(mesh);
    const req = samples.find((s) => s.name === "istio_requests_total" && s.labels.response_code === "200");
    assert.ok(req, "istio_requests_total{response_code=200}");
    assert.equal(req.value, 3);
    assert.deepEqual(
      {
        reporter: req.labels.reporter,
        source_principal: req.labels.source_principal,
        source_workload_namespace: req.labels.source_workload_namespace,
        destination_workload: req.labels.destination_workload,
        destination_workload_namespace: req.labels.destination_workload_namespace,
        destination_principal: req.labels.destination_principal,
        destination_app: req.labels.destination_app,
        destination_version: req.labels.destination_version,
        destination_service: req.labels.destination_service,
        destination_service_name: req.labels.destination_service_name,
        destination_canonical_service: req.labels.destination_canonical_service,
        request_protocol: req.labels.request_protocol,
        response_flags: req.labels.response_flags,
        connection_security_policy: req.labels.connection_security_policy,
      },
      {
        reporter: "waypoint",
        source_principal: CLIENT_ID,
        source_workload_namespace: "default",
        destination_workload: "reviews-v1",
        destination_workload_namespace: "default",
        destination_principal: "spiffe://cluster.local/ns/default/sa/reviews",
        destination_app: "reviews",
        destination_version: "v1",
        destination_service: "reviews.default.svc.cluster.local",
        destination_service_name: "reviews",
        destination_canonical_service: "reviews",
        request_protocol: "http",
        response_flags: "-",
        connection_security_policy: "mutual_tls",
      },
    );
    const count = (name: string) =>
      samples.find((s) => s.name === name && s.labels.response_code === "200" && s.labels.le === undefined)?.value;
    assert.equal(count("istio_request_duration_milliseconds_count"), 3);
    assert.equal(count("istio_request_bytes_sum"), 15);
    assert.ok((count("istio_response_bytes_sum") ?? 0) > 0);
  });

  it("Telemetry overrides: a disabled metric is not reported, a tag override is added, access logs are written", async () => {
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", mesh.pods)], {
        telemetries: [
          telemetry(
            "mesh-default",
            {
              metrics: [
                {
                  providers: [{ name: "prometheus" }],
                  overrides: [{ match: { metric: "REQUEST_SIZE" }, disabled: true }],
                },
              ],
            },
            "istio-system",
          ),
          telemetry("reviews", {
            targetRefs: [{ kind: "Service", group: "", name: "reviews" }],
            metrics: [
              {
                providers: [{ name: "prometheus" }],
                overrides: [
                  {
                    match: { metric: "REQUEST_COUNT", mode: "SERVER" },
                    tagOverrides: { request_user: { value: "request.headers['x-user']" } },
                  },
                ],
              },
            ],
            accessLogging: [{ providers: [{ name: "envoy" }], filter: { expression: "response.code >= 400" } }],
          }),
        ],
      }),
    );
    mesh.accessLog.length = 0;
    await mesh.get(REVIEWS, "/tagged", { headers: { "x-user": "jason" } });
    mesh.pods[0]!.behaviour.status = 404;
    try {
      await mesh.get(REVIEWS, "/missing", { headers: { "x-user": "jason", "user-agent": "test-agent" } });
    } finally {
      mesh.pods[0]!.behaviour.status = 200;
    }
    const samples = await scrape(mesh);
    assert.ok(samples.some((s) => s.name === "istio_requests_total" && s.labels.request_user === "jason"));
    assert.equal(samples.filter((s) => s.name.startsWith("istio_request_bytes")).length, 0);
    assert.ok(samples.some((s) => s.name === "istio_response_bytes_count"));
    // Only the 404 passes the filter; Istio's text format.
    assert.equal(mesh.accessLog.length, 1);
    assert.match(
      mesh.accessLog[0]!,
      /^\[\d{4}-\d\d-\d\dT[^\]]+Z\] "GET \/missing HTTP\/1\.1" 404 - via_upstream - "-" 0 \d+ \d+ - "-" "test-agent" "[0-9a-f-]{36}" "10\.96\.0\.10:9080" "127\.77\.0\.2" inbound-vip\|9080\|http\|reviews\.default\.svc\.cluster\.local - 10\.96\.0\.10:9080 127\.0\.0\.1:\d+ - default$/,
    );
  });

  it("a Telemetry with an invalid sampling rate is a broken config", async () => {
    await assert.rejects(
      mesh.waypoint.configure(
        config([service("reviews", "10.96.0.10", mesh.pods)], {
          telemetries: [telemetry("bad", { tracing: [{ randomSamplingPercentage: 150 }] })],
        }),
      ),
      { code: "AMBIT_WAYPOINT_CONFIG" },
    );
  });

  it("tracing: traceparent is propagated with the caller's trace id; 100% sampling marks new traces sampled", async () => {
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", mesh.pods)], {
        telemetries: [telemetry("trace", { tracing: [{ randomSamplingPercentage: 100 }] })],
      }),
    );
    const incoming = `00-${"1".repeat(32)}-${"2".repeat(16)}-00`;
    const kept = JSON.parse((await mesh.get(REVIEWS, "/t", { headers: { traceparent: incoming } })).body).headers
      .traceparent;
    assert.match(kept, new RegExp(`^00-${"1".repeat(32)}-[0-9a-f]{16}-00$`));
    const fresh = JSON.parse((await mesh.get(REVIEWS, "/t")).body).headers.traceparent;
    assert.match(fresh, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
