// The model updates incrementally; whatever the order of events, it must equal a model built from scratch.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { KubeObject } from "../../src/api/resources.js";
import { type MeshEvent, MeshModel } from "../../src/mesh/model.js";
import { authz, gatewayRef, ns, pod, serviceRef, svc, waypoint, workloadEntry } from "../helpers/objects.js";

const USE = "istio.io/use-waypoint";
const FOR = "istio.io/waypoint-for";

function snapshot(m: MeshModel): string {
  const sort = <T extends { key?: string; namespace: string; name: string }>(xs: T[]) =>
    [...xs].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return JSON.stringify({
    workloads: sort(m.workloads()).map((w) => [
      w.key,
      w.captured,
      w.binding.waypoint?.name ?? null,
      w.binding.error?.reason ?? null,
      w.conditions,
    ]),
    services: sort(m.services()).map((s) => [s.key, s.binding.waypoint?.name ?? null, s.conditions]),
    waypoints: sort(m.waypoints()).map((w) => [w.namespace, w.name, w.trafficType, w.ready]),
    policies: sort(m.policies()).map((p) => [p.key, p.attachedTo, p.conditions]),
  });
}

const nsName = fc.constantFrom("a", "b");
const wpName = fc.constantFrom("w1", "w2");
const label = fc.option(fc.constantFrom("w1", "w2", "none"), { nil: undefined });
const objectArb: fc.Arbitrary<KubeObject> = fc.oneof(
  fc
    .tuple(nsName, label, fc.boolean())
    .map(([n, l, amb]) =>
      ns(n, { ...(l ? { [USE]: l } : {}), ...(amb ? { "istio.io/dataplane-mode": "ambient" } : {}) }),
    ),
  fc
    .tuple(nsName, wpName, fc.constantFrom("service", "workload", "all"))
    .map(([n, w, t]) => waypoint(n, w, { labels: { [FOR]: t } })),
  fc.tuple(nsName, fc.constantFrom("s1", "s2"), label).map(([n, s, l]) => svc(n, s, l ? { [USE]: l } : {})),
  fc.tuple(nsName, fc.constantFrom("p1", "p2"), label).map(([n, p, l]) => pod(n, p, l ? { [USE]: l } : {})),
  fc.tuple(nsName, label).map(([n, l]) => workloadEntry(n, "we", l ? { [USE]: l } : {})),
  fc
    .tuple(nsName, fc.constantFrom("s1", "s2", "w1"))
    .map(([n, t]) => authz(n, "pol", { targetRefs: [t.startsWith("w") ? gatewayRef(t) : serviceRef(t)], rules: [{}] })),
);
const eventArb: fc.Arbitrary<MeshEvent> = fc.oneof(
  { weight: 3, arbitrary: objectArb.map((object) => ({ type: "upsert" as const, object })) },
  {
    weight: 1,
    arbitrary: objectArb.map((o) => ({
      type: "delete" as const,
      kind: o.kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name,
    })),
  },
);

function replayToObjects(events: MeshEvent[]): KubeObject[] {
  const live = new Map<string, KubeObject>();
  for (const e of events) {
    if (e.type === "upsert")
      live.set(`${e.object.kind}/${e.object.metadata.namespace}/${e.object.metadata.name}`, e.object);
    else live.delete(`${e.kind}/${e.namespace}/${e.name}`);
  }
  return [...live.values()];
}

describe("incremental model", () => {
  test("property: applying events one by one equals building from the final set of objects", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        const incremental = new MeshModel();
        for (const e of events) incremental.apply(e);
        const rebuilt = MeshModel.build(replayToObjects(events));
        assert.equal(snapshot(incremental), snapshot(rebuilt));
      }),
      { numRuns: 300 },
    );
  });
  test("a namespace label change reports exactly the namespace's workloads and services as changed", () => {
    const m = MeshModel.build([ns("a"), waypoint("a", "w1"), svc("a", "s1"), pod("a", "p1"), pod("b", "p2")]);
    const changes = m.apply({ type: "upsert", object: ns("a", { [USE]: "w1" }) });
    assert.deepEqual([...changes.workloads], ["Pod/a/p1"]);
    assert.deepEqual([...changes.services], ["Service/a/s1"]);
    assert.equal(m.service("Service", "a", "s1")?.binding.waypoint?.name, "w1");
  });
  test("deleting a waypoint unbinds its services and re-evaluates the policies that target them", () => {
    const m = MeshModel.build([
      ns("a", { [USE]: "w1" }),
      waypoint("a", "w1"),
      svc("a", "s1"),
      authz("a", "pol", { targetRefs: [serviceRef("s1")], rules: [{}] }),
    ]);
    assert.deepEqual(m.policy("AuthorizationPolicy", "a", "pol")?.attachedTo, ["Service/a/s1"]);
    const changes = m.apply({ type: "delete", kind: "Gateway", namespace: "a", name: "w1" });
    assert.ok(changes.policies.has("AuthorizationPolicy/a/pol"));
    assert.deepEqual(m.policy("AuthorizationPolicy", "a", "pol")?.attachedTo, []);
    assert.equal(m.service("Service", "a", "s1")?.conditions[0]?.reason, "WaypointIsNotReady");
  });
});
