// spec/control-plane.md §10 (istioctl analyze's ambient-relevant codes) and Ambit's own findings.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KubeObject } from "../../src/api/resources.js";
import { analyze } from "../../src/mesh/diagnostics.js";
import { MeshModel } from "../../src/mesh/model.js";
import { authz, gatewayRef, ns, pod, policy, serviceRef, svc, waypoint } from "../helpers/objects.js";

const MODE = "istio.io/dataplane-mode";
const USE = "istio.io/use-waypoint";
const codes = (objects: KubeObject[]) =>
  analyze(MeshModel.build(objects)).map((d) => `${d.level} ${d.code} ${d.resource}`);
const find = (objects: KubeObject[], code: string) => analyze(MeshModel.build(objects)).filter((d) => d.code === code);

describe("Istio's analyzers (§10)", () => {
  test("IST0171 for WaypointBound=False on a Service, with Istio's message template", () => {
    const d = find([svc("app", "s", { [USE]: "missing" })], "IST0171");
    assert.equal(d.length, 1);
    assert.equal(
      d[0]?.message,
      'A condition with a negative status is present: type=istio.io/WaypointBound, reason=WaypointIsNotReady, message=waypoint "app/missing" is not ready.',
    );
  });
  test("IST0171 for WaypointAccepted=True/PartiallyInvalid (istioctl flags it although it is True)", () => {
    const d = find(
      [waypoint("app", "wp"), authz("app", "p", { targetRefs: [gatewayRef("wp"), serviceRef("nope")], rules: [{}] })],
      "IST0171",
    );
    assert.match(d[0]?.message ?? "", /type=WaypointAccepted, reason=PartiallyInvalid/);
  });
  test("IST0171 for ZtunnelAccepted=False (AUDIT is not supported by ztunnel)", () => {
    const d = find([authz("app", "p", { action: "AUDIT", rules: [{}] })], "IST0171");
    assert.match(
      d[0]?.message ?? "",
      /type=ZtunnelAccepted, reason=UnsupportedValue, message=ztunnel does not support the AUDIT action\.$/,
    );
  });
  test("IST0123 for a namespace with dataplane-mode and istio-injection=enabled (or istio.io/rev)", () => {
    assert.ok(
      codes([ns("a", { [MODE]: "ambient", "istio-injection": "enabled" })]).includes("Warning IST0123 Namespace a"),
    );
    assert.ok(
      codes([ns("b", { [MODE]: "ambient", "istio.io/rev": "canary" })]).includes("Warning IST0123 Namespace b"),
    );
    assert.ok(
      !codes([ns("c", { [MODE]: "ambient", "istio-injection": "disabled" })]).includes("Warning IST0123 Namespace c"),
    );
  });
  test("IST0102 (Info) for a namespace whose pods are all outside the mesh, not for an ambient one", () => {
    assert.ok(codes([ns("a"), pod("a", "p")]).includes("Info IST0102 Namespace a"));
    assert.ok(!codes([ns("a", { [MODE]: "ambient" }), pod("a", "p")]).some((c) => c.includes("IST0102")));
    assert.ok(!codes([ns("istio-system"), pod("istio-system", "p")]).some((c) => c.includes("IST0102")));
  });
  test("IST0127 for a selector policy that matches no captured pod", () => {
    const objs = [
      ns("a", { [MODE]: "ambient" }),
      pod("a", "p", { app: "web" }),
      authz("a", "p1", { selector: { matchLabels: { app: "db" } }, rules: [{}] }),
    ];
    assert.equal(
      find(objs, "IST0127")[0]?.message,
      "No matching workloads for this resource with the following labels: app=db",
    );
    const ok = [
      ns("a", { [MODE]: "ambient" }),
      pod("a", "p", { app: "db" }),
      authz("a", "p1", { selector: { matchLabels: { app: "db" } }, rules: [{}] }),
    ];
    assert.equal(find(ok, "IST0127").length, 0);
  });
  test("IST0166 for a selector policy that selects a waypoint's pods", () => {
    const objs = [
      pod("a", "wp-1", { "gateway.networking.k8s.io/gateway-name": "wp" }),
      authz("a", "p", { selector: { matchLabels: { "gateway.networking.k8s.io/gateway-name": "wp" } }, rules: [{}] }),
    ];
    assert.equal(
      find(objs, "IST0166")[0]?.message,
      "Ineffective selector on Kubernetes Gateway wp. Use the TargetRef field instead.",
    );
  });
});

describe("Ambit's findings", () => {
  test("AMB0101: a pod's own use-waypoint to a service-only waypoint", () => {
    assert.ok(codes([waypoint("a", "wp"), pod("a", "p", { [USE]: "wp" })]).includes("Warning AMB0101 Pod a/p"));
  });
  test("AMB0110: a pod's own use-waypoint that does not resolve (no fallback)", () => {
    const d = find([ns("a", { [USE]: "wp" }), waypoint("a", "wp"), pod("a", "p", { [USE]: "gone" })], "AMB0110");
    assert.match(d[0]?.message ?? "", /waypoint "a\/gone" is not ready.*not used as a fallback/);
  });
  test("AMB0102: a Service-targeted policy on a Service with no waypoint is enforced nowhere", () => {
    assert.ok(
      codes([svc("a", "s"), authz("a", "p", { targetRefs: [serviceRef("s")], rules: [{}] })]).includes(
        "Warning AMB0102 AuthorizationPolicy a/p",
      ),
    );
  });
  test("AMB0103: a selector policy with HTTP fields, carrying istiod's exact message", () => {
    const d = find(
      [
        authz("a", "p", {
          selector: { matchLabels: { app: "x" } },
          rules: [{ to: [{ operation: { paths: ["/x"] } }] }],
        }),
      ],
      "AMB0103",
    );
    assert.equal(
      d[0]?.message,
      "ztunnel does not support HTTP attributes (found: paths). In ambient mode you must use a waypoint proxy to enforce HTTP rules. Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.",
    );
  });
  test("AMB0104 (Info): a waypoint nothing uses", () => {
    assert.ok(codes([waypoint("a", "wp")]).includes("Info AMB0104 Gateway a/wp"));
    assert.ok(!codes([waypoint("a", "wp"), svc("a", "s", { [USE]: "wp" })]).some((c) => c.includes("AMB0104")));
  });
  test("AMB0105: a waypoint-class Gateway without a single HBONE listener on 15008", () => {
    const gw = waypoint("a", "wp", { listeners: [{ name: "http", port: 80, protocol: "HTTP" }] });
    assert.equal(
      find([gw], "AMB0105")[0]?.message,
      'listener not accepted (UnsupportedProtocol): Expected a single listener on port 15008 with protocol "HBONE"',
    );
  });
  test("AMB0106: use-waypoint-namespace without use-waypoint", () => {
    assert.ok(
      codes([svc("a", "s", { "istio.io/use-waypoint-namespace": "x" })]).includes("Warning AMB0106 Service a/s"),
    );
  });
  test("AMB0107: a dataplane-mode value that is neither ambient nor none", () => {
    assert.ok(codes([ns("a", { [MODE]: "Ambient" })]).includes("Warning AMB0107 Namespace a"));
    assert.ok(codes([pod("a", "p", { [MODE]: "enabled" })]).includes("Warning AMB0107 Pod a/p"));
  });
  test("AMB0108: an unknown waypoint-for value", () => {
    assert.ok(
      codes([waypoint("a", "wp", { labels: { "istio.io/waypoint-for": "services" } })]).includes(
        "Warning AMB0108 Gateway a/wp",
      ),
    );
  });
  test("AMB0109: RequestAuthentication or WasmPlugin with a selector is ignored in ambient", () => {
    assert.ok(
      codes([
        policy("RequestAuthentication", "a", "ra", {
          selector: { matchLabels: { app: "x" } },
          jwtRules: [{ issuer: "i" }],
        }),
      ]).includes("Warning AMB0109 RequestAuthentication a/ra"),
    );
  });
  test("HTTPRoute to a Service without a waypoint is not respected (AMB0111); a missing parent is IST0171", () => {
    const route = (parent: string): KubeObject =>
      ({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "r", namespace: "a" },
        spec: { parentRefs: [{ group: "", kind: "Service", name: parent }] },
      }) as KubeObject;
    assert.match(
      find([svc("a", "s"), route("s")], "AMB0111")[0]?.message ?? "",
      /^istio\.io\/use-waypoint label missing from parent and parent namespace; in ambient mode, route will not be respected/,
    );
    assert.equal(find([ns("a", { [USE]: "wp" }), waypoint("a", "wp"), svc("a", "s"), route("s")], "AMB0111").length, 0);
    assert.match(
      find([route("nope")], "IST0171")[0]?.message ?? "",
      /type=Accepted, reason=NoMatchingParent, message=parent service: "nope" not found/,
    );
  });
});
