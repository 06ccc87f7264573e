// spec/control-plane.md §4, §5, §11: `istio.io/use-waypoint` resolution and the traffic-type gate.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { KubeObject } from "../../src/api/resources.js";
import { MeshModel } from "../../src/mesh/model.js";
import { ns, pod, svc, waypoint, workloadEntry } from "../helpers/objects.js";

const USE = "istio.io/use-waypoint";
const USE_NS = "istio.io/use-waypoint-namespace";
const FOR = "istio.io/waypoint-for";

const svcWaypoint = (m: MeshModel, n = "app", name = "s") =>
  m.service("Service", n, name)?.binding.waypoint?.name ?? null;
const podWaypoint = (m: MeshModel, n = "app", name = "p") =>
  m.workload(`Pod/${n}/${name}`)?.binding.waypoint?.name ?? null;
const svcCondition = (m: MeshModel, n = "app", name = "s") => m.service("Service", n, name)?.conditions[0];

describe("bindings (§4)", () => {
  test("a namespace label binds its services", () => {
    const m = MeshModel.build([ns("app", { [USE]: "wp" }), waypoint("app", "wp"), svc("app", "s")]);
    assert.equal(svcWaypoint(m), "wp");
  });
  test("the service label beats the namespace label", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp"),
      waypoint("app", "other"),
      svc("app", "s", { [USE]: "other" }),
    ]);
    assert.equal(svcWaypoint(m), "other");
  });
  test("none on the service opts out of the namespace waypoint, with no condition", () => {
    const m = MeshModel.build([ns("app", { [USE]: "wp" }), waypoint("app", "wp"), svc("app", "s", { [USE]: "none" })]);
    assert.equal(svcWaypoint(m), null);
    assert.equal(svcCondition(m), undefined);
  });
  test("none is exact: NONE is a waypoint name", () => {
    const m = MeshModel.build([svc("app", "s", { [USE]: "NONE" })]);
    assert.equal(svcCondition(m)?.reason, "WaypointIsNotReady");
  });
  test("no fallback: an object label that does not resolve leaves no waypoint, even with a namespace waypoint", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp"),
      svc("app", "s", { [USE]: "missing" }),
    ]);
    assert.equal(svcWaypoint(m), null);
    assert.deepEqual(svcCondition(m), {
      type: "istio.io/WaypointBound",
      status: "False",
      reason: "WaypointIsNotReady",
      message: 'waypoint "app/missing" is not ready',
    });
  });
  test("use-waypoint-namespace is read from the same object as use-waypoint", () => {
    const objs: KubeObject[] = [
      ns("app", { [USE]: "wp", [USE_NS]: "infra" }),
      waypoint("infra", "wp", { allowedFrom: "All" }),
      waypoint("app", "own"),
      svc("app", "s", { [USE]: "own" }),
      svc("app", "inherits"),
    ];
    const m = MeshModel.build(objs);
    assert.equal(m.service("Service", "app", "s")?.binding.waypoint?.namespace, "app");
    assert.equal(m.service("Service", "app", "inherits")?.binding.waypoint?.namespace, "infra");
  });
  test("use-waypoint-namespace without use-waypoint is ignored", () => {
    const m = MeshModel.build([
      waypoint("infra", "wp", { allowedFrom: "All" }),
      svc("app", "s", { [USE_NS]: "infra" }),
    ]);
    assert.equal(svcWaypoint(m), null);
    assert.equal(svcCondition(m), undefined);
  });
  test("cross-namespace use needs allowedRoutes: Same (default) denies with AttachmentDenied", () => {
    const m = MeshModel.build([waypoint("infra", "wp"), svc("app", "s", { [USE]: "wp", [USE_NS]: "infra" })]);
    assert.equal(svcWaypoint(m), null);
    assert.deepEqual(svcCondition(m), {
      type: "istio.io/WaypointBound",
      status: "False",
      reason: "AttachmentDenied",
      message: 'we are not permitted to attach to waypoint "infra/wp" (missing allowedRoutes?)',
    });
  });
  test("allowedRoutes All permits any namespace", () => {
    const m = MeshModel.build([
      waypoint("infra", "wp", { allowedFrom: "All" }),
      svc("app", "s", { [USE]: "wp", [USE_NS]: "infra" }),
    ]);
    assert.equal(svcWaypoint(m), "wp");
  });
  test("allowedRoutes Selector matches the binding object's namespace labels", () => {
    const wp = waypoint("infra", "wp", { allowedFrom: "Selector", selector: { matchLabels: { team: "a" } } });
    const yes = MeshModel.build([wp, ns("app", { team: "a" }), svc("app", "s", { [USE]: "wp", [USE_NS]: "infra" })]);
    assert.equal(svcWaypoint(yes), "wp");
    const no = MeshModel.build([wp, ns("app", { team: "b" }), svc("app", "s", { [USE]: "wp", [USE_NS]: "infra" })]);
    assert.equal(svcCondition(no)?.reason, "AttachmentDenied");
  });
  test("a Selector that does not match the waypoint's own namespace also blocks same-namespace bindings", () => {
    const wp = waypoint("app", "wp", { allowedFrom: "Selector", selector: { matchLabels: { team: "a" } } });
    const m = MeshModel.build([wp, ns("app"), svc("app", "s", { [USE]: "wp" })]);
    assert.equal(svcCondition(m)?.reason, "AttachmentDenied");
  });
  test("a workload-only waypoint inherited from the namespace puts UnsupportedTrafficType on every Service", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp", { labels: { [FOR]: "workload" } }),
      svc("app", "s"),
    ]);
    assert.deepEqual(svcCondition(m), {
      type: "istio.io/WaypointBound",
      status: "False",
      reason: "UnsupportedTrafficType",
      message: 'attempting to bind to traffic type "service" which the waypoint "app/wp" does not support',
    });
  });
  test("a service-only waypoint inherited from the namespace is silently ignored for pods", () => {
    const m = MeshModel.build([ns("app", { [USE]: "wp" }), waypoint("app", "wp"), pod("app", "p")]);
    const w = m.workload("Pod/app/p");
    assert.equal(w?.binding.waypoint, null);
    assert.equal(w?.binding.silent, true);
  });
  test("a pod label to a service-only waypoint is an error (UnsupportedTrafficType, workload)", () => {
    const m = MeshModel.build([waypoint("app", "wp"), pod("app", "p", { [USE]: "wp" })]);
    const b = m.workload("Pod/app/p")?.binding;
    assert.equal(b?.waypoint, null);
    assert.equal(b?.error?.reason, "UnsupportedTrafficType");
    assert.equal(b?.silent, false);
  });
  test("a pod label beats the namespace label", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp", { labels: { [FOR]: "all" } }),
      waypoint("app", "mine", { labels: { [FOR]: "workload" } }),
      pod("app", "p", { [USE]: "mine" }),
    ]);
    assert.equal(podWaypoint(m), "mine");
  });
  test("WorkloadEntry: metadata labels win over spec labels, and WaypointBound is written", () => {
    const m = MeshModel.build([
      waypoint("app", "a", { labels: { [FOR]: "workload" } }),
      waypoint("app", "b", { labels: { [FOR]: "workload" } }),
      workloadEntry("app", "we", { [USE]: "a" }, { [USE]: "b" }),
    ]);
    const w = m.workload("WorkloadEntry/app/we");
    assert.equal(w?.binding.waypoint?.name, "a");
    assert.equal(w?.conditions[0]?.message, "Successfully attached to waypoint app/a");
  });
  test("waypoint Services (gateway.istio.io/managed) never get a waypoint", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp"),
      svc("app", "s", { "gateway.istio.io/managed": "istio.io-mesh-controller" }),
    ]);
    assert.equal(svcWaypoint(m), null);
  });
  test("waypoint instances (pods labelled with the gateway name) never get a waypoint", () => {
    const m = MeshModel.build([
      ns("app", { [USE]: "wp" }),
      waypoint("app", "wp", { labels: { [FOR]: "all" } }),
      pod("app", "p", { "gateway.networking.k8s.io/gateway-name": "wp" }),
    ]);
    assert.equal(m.workload("Pod/app/p")?.waypointInstance, true);
    assert.equal(podWaypoint(m), null);
  });
  test("snapshot: a waypoint without status addresses is not ready (no fallback to the namespace)", () => {
    const m = MeshModel.build([ns("app", { [USE]: "wp" }), waypoint("app", "wp"), svc("app", "s")], {
      mode: "snapshot",
    });
    assert.equal(svcCondition(m)?.reason, "WaypointIsNotReady");
  });
});

describe("waypoint-for table (§5)", () => {
  const rows: Array<[string | undefined, boolean, boolean, boolean]> = [
    // waypoint-for, service binds, pod binds (own label), pod binds (namespace)
    [undefined, true, false, false],
    ["service", true, false, false],
    ["workload", false, true, true],
    ["all", true, true, true],
    ["none", false, false, false],
    ["typo", false, false, false],
  ];
  for (const [type, service, podOwn, podNs] of rows) {
    test(`waypoint-for=${type ?? "(unset)"}: service ${service}, pod label ${podOwn}, namespace-inherited pod ${podNs}`, () => {
      const wp = waypoint("app", "wp", { labels: type ? { [FOR]: type } : {} });
      const own = MeshModel.build([wp, svc("app", "s", { [USE]: "wp" }), pod("app", "p", { [USE]: "wp" })]);
      assert.equal(svcWaypoint(own) === "wp", service);
      assert.equal(podWaypoint(own) === "wp", podOwn);
      assert.equal(own.workload("Pod/app/p")?.binding.error !== undefined, !podOwn);
      const inherited = MeshModel.build([ns("app", { [USE]: "wp" }), wp, pod("app", "p")]);
      assert.equal(podWaypoint(inherited) === "wp", podNs);
      if (!podNs) assert.equal(inherited.workload("Pod/app/p")?.binding.silent, true);
    });
  }
});

describe("binding properties (§4, fast-check)", () => {
  const trafficType = fc.constantFrom("service", "workload", "all", "none");
  const name = fc.constantFrom("a", "b", "c");
  test("a pod's own valid binding always wins over the namespace", () => {
    fc.assert(
      fc.property(name, name, trafficType, (own, nsWp, nsType) => {
        const m = MeshModel.build([
          ns("app", { [USE]: nsWp }),
          waypoint("app", own, { labels: { [FOR]: "workload" } }),
          ...(nsWp !== own ? [waypoint("app", nsWp, { labels: { [FOR]: nsType } })] : []),
          pod("app", "p", { [USE]: own }),
        ]);
        return podWaypoint(m) === own;
      }),
    );
  });
  test("none always yields no waypoint and no condition", () => {
    fc.assert(
      fc.property(fc.option(name), trafficType, (nsWp, type) => {
        const m = MeshModel.build([
          ns("app", nsWp ? { [USE]: nsWp } : {}),
          waypoint("app", nsWp ?? "a", { labels: { [FOR]: type } }),
          svc("app", "s", { [USE]: "none" }),
          pod("app", "p", { [USE]: "none" }),
        ]);
        return svcWaypoint(m) === null && podWaypoint(m) === null && svcCondition(m) === undefined;
      }),
    );
  });
  test("adding an unrelated object never changes a binding", () => {
    const unrelated = fc.constantFrom<KubeObject>(
      ns("other", { [USE]: "x" }),
      waypoint("other", "wp"),
      svc("other", "s", { [USE]: "wp" }),
      pod("other", "p"),
      waypoint("app", "unused"),
    );
    fc.assert(
      fc.property(fc.option(name), fc.option(name), unrelated, (nsWp, svcWp, extra) => {
        const base: KubeObject[] = [
          ns("app", nsWp ? { [USE]: nsWp } : {}),
          waypoint("app", "a"),
          waypoint("app", "b", { labels: { [FOR]: "all" } }),
          svc("app", "s", svcWp ? { [USE]: svcWp } : {}),
        ];
        const before = MeshModel.build(base).service("Service", "app", "s");
        const after = MeshModel.build([...base, extra]).service("Service", "app", "s");
        return JSON.stringify(before?.binding) === JSON.stringify(after?.binding);
      }),
    );
  });
});
