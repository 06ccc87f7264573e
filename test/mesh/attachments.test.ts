// spec/control-plane.md §6 (WaypointAccepted), §7 (targetRefs attachment), §8.2 (ztunnel scopes), §11.6–8.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MeshModel } from "../../src/mesh/model.js";
import { authz, gatewayClass, gatewayRef, ns, policy, serviceRef, svc, waypoint } from "../helpers/objects.js";

const USE = "istio.io/use-waypoint";
const accepted = (m: MeshModel, name: string, namespace = "app") =>
  m.policy("AuthorizationPolicy", namespace, name)?.conditions.find((c) => c.type === "WaypointAccepted");
const attached = (m: MeshModel, name: string, namespace = "app", kind = "AuthorizationPolicy") =>
  m.policy(kind, namespace, name)?.attachedTo;

describe("policy attachment (§7)", () => {
  test("a Gateway-targeted policy in the waypoint's namespace attaches to the whole waypoint", () => {
    const m = MeshModel.build([
      waypoint("app", "wp"),
      authz("app", "p", { targetRefs: [gatewayRef("wp")], rules: [{}] }),
    ]);
    assert.deepEqual(attached(m, "p"), ["Gateway/app/wp"]);
    assert.deepEqual(accepted(m, "p"), {
      type: "WaypointAccepted",
      status: "True",
      reason: "Accepted",
      message: "bound to app/wp",
      observedGeneration: 1,
    });
  });
  test("a Gateway-targeted policy in another namespace never matches (TargetNotFound)", () => {
    const m = MeshModel.build([
      waypoint("infra", "wp"),
      authz("app", "p", { targetRefs: [gatewayRef("wp")], rules: [{}] }),
    ]);
    assert.deepEqual(attached(m, "p"), []);
    assert.equal(accepted(m, "p")?.reason, "TargetNotFound");
    assert.equal(accepted(m, "p")?.message, "not bound");
  });
  test("a Service-targeted policy attaches when the Service is bound, even to a waypoint in another namespace", () => {
    const m = MeshModel.build([
      waypoint("infra", "wp", { allowedFrom: "All" }),
      svc("app", "s", { [USE]: "wp", "istio.io/use-waypoint-namespace": "infra" }),
      authz("app", "p", { targetRefs: [serviceRef("s")], rules: [{}] }),
    ]);
    assert.deepEqual(attached(m, "p"), ["Service/app/s"]);
    assert.equal(accepted(m, "p")?.message, "bound to infra/wp");
  });
  test("a policy targeting a Service with no waypoint is enforced nowhere (AncestorNotBound)", () => {
    const m = MeshModel.build([svc("app", "s"), authz("app", "p", { targetRefs: [serviceRef("s")], rules: [{}] })]);
    assert.deepEqual(attached(m, "p"), []);
    assert.deepEqual(accepted(m, "p"), {
      type: "WaypointAccepted",
      status: "False",
      reason: "AncestorNotBound",
      message: "Service app/s is not bound to a waypoint",
      observedGeneration: 1,
    });
  });
  test("a missing target Service: TargetNotFound", () => {
    const m = MeshModel.build([authz("app", "p", { targetRefs: [serviceRef("nope")], rules: [{}] })]);
    assert.equal(accepted(m, "p")?.message, "Service app/nope was not found");
  });
  test("several refs, some bound: True/PartiallyInvalid listing the unbound ancestors in ref order", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp"),
      svc("app", "s"),
      authz("app", "p", { targetRefs: [serviceRef("s"), serviceRef("x"), gatewayRef("gone")], rules: [{}] }),
    ]);
    assert.deepEqual(accepted(m, "p"), {
      type: "WaypointAccepted",
      status: "True",
      reason: "PartiallyInvalid",
      message: "Invalid targetRefs: Service.core:app/x, Gateway.gateway.networking.k8s.io:app/gone",
      observedGeneration: 1,
    });
  });
  test("several refs, none bound: False/Invalid; all bound: True/Accepted with an empty message", () => {
    const none = MeshModel.build([authz("app", "p", { targetRefs: [serviceRef("x"), serviceRef("y")], rules: [{}] })]);
    assert.equal(accepted(none, "p")?.status, "False");
    assert.equal(accepted(none, "p")?.reason, "Invalid");
    const all = MeshModel.build([
      waypoint("app", "wp"),
      waypoint("app", "wp2"),
      authz("app", "p", { targetRefs: [gatewayRef("wp"), gatewayRef("wp2")], rules: [{}] }),
    ]);
    assert.deepEqual(
      [accepted(all, "p")?.status, accepted(all, "p")?.reason, accepted(all, "p")?.message],
      ["True", "Accepted", ""],
    );
  });
  test("GatewayClass istio-waypoint from the root namespace attaches to every waypoint", () => {
    const m = MeshModel.build([
      authz("istio-system", "p", {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "GatewayClass", name: "istio-waypoint" }],
        rules: [{}],
      }),
    ]);
    assert.deepEqual(attached(m, "p", "istio-system"), ["GatewayClass/istio-waypoint"]);
    assert.equal(accepted(m, "p", "istio-system")?.message, "bound to istio-waypoint");
  });
  test("GatewayClass outside the root namespace: Invalid", () => {
    const m = MeshModel.build([
      authz("app", "p", {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "GatewayClass", name: "istio-waypoint" }],
        rules: [{}],
      }),
    ]);
    assert.deepEqual(attached(m, "p"), []);
    assert.equal(
      accepted(m, "p")?.message,
      "AuthorizationPolicy must be in the root namespace `istio-system` when referencing a GatewayClass",
    );
  });
  test("a mesh-controller class with another name is Accepted in status but attaches nowhere (§11.7)", () => {
    const m = MeshModel.build([
      gatewayClass("custom", "istio.io/mesh-controller"),
      authz("istio-system", "p", {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "GatewayClass", name: "custom" }],
        rules: [{}],
      }),
    ]);
    assert.equal(accepted(m, "p", "istio-system")?.status, "True");
    assert.deepEqual(attached(m, "p", "istio-system"), []);
  });
  test("a GatewayClass with another controller: Invalid", () => {
    const m = MeshModel.build([
      gatewayClass("other", "example.com/x"),
      authz("istio-system", "p", {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "GatewayClass", name: "other" }],
        rules: [{}],
      }),
    ]);
    assert.equal(
      accepted(m, "p", "istio-system")?.message,
      "GatewayClass must use controller name `istio.io/mesh-controller` for waypoints",
    );
  });
  test("targetRefs wins over the legacy targetRef", () => {
    const m = MeshModel.build([
      waypoint("app", "a"),
      waypoint("app", "b"),
      authz("app", "p", { targetRef: gatewayRef("a"), targetRefs: [gatewayRef("b")], rules: [{}] }),
    ]);
    assert.deepEqual(attached(m, "p"), ["Gateway/app/b"]);
  });
  test("the legacy singular targetRef is used when targetRefs is empty", () => {
    const m = MeshModel.build([waypoint("app", "a"), authz("app", "p", { targetRef: gatewayRef("a"), rules: [{}] })]);
    assert.deepEqual(attached(m, "p"), ["Gateway/app/a"]);
  });
});

describe("ztunnel scopes (§8.2)", () => {
  test("selector → WORKLOAD_SELECTOR; none → NAMESPACE; none in the root namespace → GLOBAL", () => {
    const m = MeshModel.build([
      authz("app", "sel", { selector: { matchLabels: { b: "2", a: "1" } }, rules: [{}] }),
      authz("app", "nsw", { rules: [{}] }),
      authz("istio-system", "glob", { rules: [{}] }),
    ]);
    assert.deepEqual(attached(m, "sel"), ["ztunnel:WORKLOAD_SELECTOR:app:a=1,b=2"]);
    assert.deepEqual(attached(m, "nsw"), ["ztunnel:NAMESPACE:app"]);
    assert.deepEqual(attached(m, "glob", "istio-system"), ["ztunnel:GLOBAL"]);
  });
  test("AUDIT and CUSTOM are not sent to ztunnel: attached nowhere, ZtunnelAccepted False", () => {
    const m = MeshModel.build([authz("app", "audit", { action: "AUDIT", rules: [{}] })]);
    assert.deepEqual(attached(m, "audit"), []);
    const c = m.policy("AuthorizationPolicy", "app", "audit")?.conditions[0];
    assert.deepEqual(
      [c?.type, c?.status, c?.reason, c?.message],
      ["ZtunnelAccepted", "False", "UnsupportedValue", "ztunnel does not support the AUDIT action"],
    );
  });
  test("a targetRef policy gets no ZtunnelAccepted and a selector policy no WaypointAccepted", () => {
    const m = MeshModel.build([
      waypoint("app", "wp"),
      authz("app", "t", { targetRefs: [gatewayRef("wp")], rules: [{}] }),
      authz("app", "s", { selector: { matchLabels: { a: "1" } }, rules: [{}] }),
    ]);
    assert.deepEqual(
      m.policy("AuthorizationPolicy", "app", "t")?.conditions.map((c) => c.type),
      ["WaypointAccepted"],
    );
    assert.deepEqual(
      m.policy("AuthorizationPolicy", "app", "s")?.conditions.map((c) => c.type),
      ["ZtunnelAccepted"],
    );
  });
  test("RequestAuthentication without targetRefs is enforced nowhere in ambient", () => {
    const m = MeshModel.build([
      policy("RequestAuthentication", "app", "ra", {
        selector: { matchLabels: { a: "1" } },
        jwtRules: [{ issuer: "x" }],
      }),
    ]);
    assert.deepEqual(attached(m, "ra", "app", "RequestAuthentication"), []);
  });
  test("namespace-wide Telemetry reaches the namespace's waypoints; root-namespace Telemetry every waypoint", () => {
    const m = MeshModel.build([
      waypoint("app", "wp"),
      waypoint("other", "wp2"),
      policy("Telemetry", "app", "t", {}),
      policy("Telemetry", "istio-system", "mesh", {}),
    ]);
    assert.deepEqual(attached(m, "t", "app", "Telemetry"), ["Gateway/app/wp"]);
    assert.deepEqual(attached(m, "mesh", "istio-system", "Telemetry"), ["Gateway/app/wp", "Gateway/other/wp2"]);
  });
});
