// MeshSource pushes only what an event reaches (issue: "deltas from the mesh model's incremental changes, not by
// diffing the world"). Spec: data-plane.md §4.1 (only changed Addresses are sent), §4.2, control-plane.md §8.2, §8.6, §9.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KubeObject } from "../../src/api/resources.js";
import { MeshSource } from "../../src/controlplane/mesh-source.js";
import { MeshModel } from "../../src/mesh/model.js";
import { protoToWorkloadView } from "../../src/xds/convert/address-views.js";
import { protoToL4Policy } from "../../src/xds/convert/authorization.js";
import { decodeAddress, decodeAuthorization, decodeWaypointConfig } from "../../src/xds/resources.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_CONFIG_TYPE_URL } from "../../src/xds/types.js";
import type { WaypointL7Config } from "../../src/xds/waypoint-config.js";
import { authz, ns, pod, policy, serviceRef, svc, waypoint } from "../helpers/objects.js";
import { record } from "./fixtures.js";

const AMBIENT = { "istio.io/dataplane-mode": "ambient" };
const uid = (namespace: string, name: string) => `Kubernetes//Pod/${namespace}/${name}`;

function mesh(extra: KubeObject[] = []) {
  const objects: KubeObject[] = [
    ns("a", AMBIENT),
    ns("b", AMBIENT),
    pod("a", "x-1", { app: "x" }, { ip: "10.0.1.1", nodeName: "n1" }),
    pod("a", "y-1", { app: "y" }, { ip: "10.0.1.2", nodeName: "n1" }),
    pod("b", "z-1", { app: "z" }, { ip: "10.0.2.1", nodeName: "n2" }),
    svc("a", "x"),
    svc("b", "z"),
    ...extra,
  ];
  const model = MeshModel.build(objects);
  const source = new MeshSource(model);
  return { model, source, log: record(source) };
}

function workloadView(source: MeshSource, id: string) {
  const r = source.snapshot(ADDRESS_TYPE_URL).get(id);
  assert.ok(r, id);
  const a = decodeAddress(r.resource);
  assert.equal(a.type.case, "workload");
  return protoToWorkloadView(a.type.value);
}

describe("MeshSource", () => {
  test("start: every workload, service and sent policy is in the snapshot", () => {
    const { source } = mesh([authz("a", "only-x", { selector: { matchLabels: { app: "x" } }, rules: [{}] })]);
    assert.deepEqual([...source.snapshot(ADDRESS_TYPE_URL).keys()].sort(), [
      uid("a", "x-1"),
      uid("a", "y-1"),
      uid("b", "z-1"),
      "a/x.a.svc.cluster.local",
      "b/z.b.svc.cluster.local",
    ]);
    assert.deepEqual([...source.snapshot(AUTHORIZATION_TYPE_URL).keys()], ["a/only-x"]);
    assert.deepEqual(workloadView(source, uid("a", "x-1")).authorizationPolicies, ["a/only-x"]);
    assert.deepEqual(workloadView(source, uid("a", "y-1")).authorizationPolicies, []);
  });

  test("a pod label change pushes that workload only", () => {
    const { source, log } = mesh();
    source.apply({
      type: "upsert",
      object: pod("a", "y-1", { app: "y", version: "v2" }, { ip: "10.0.1.2", nodeName: "n1" }),
    });
    assert.deepEqual(log, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "y-1")], removed: [] }]);
    assert.equal(workloadView(source, uid("a", "y-1")).canonicalRevision, "v2");
  });

  test("a pod that starts matching a Service's selector gains the service in its map; nothing else moves", () => {
    const { source, log } = mesh();
    source.apply({ type: "upsert", object: pod("a", "y-1", { app: "x" }, { ip: "10.0.1.2", nodeName: "n1" }) });
    assert.deepEqual(log, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "y-1")], removed: [] }]);
    assert.deepEqual(Object.keys(workloadView(source, uid("a", "y-1")).services), ["a/x.a.svc.cluster.local"]);
  });

  test("a namespace label change pushes that namespace's workloads only (§2: capture)", () => {
    const { source, log } = mesh();
    source.apply({ type: "upsert", object: ns("a", {}) });
    assert.deepEqual(log, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "x-1"), uid("a", "y-1")], removed: [] }]);
    assert.equal(workloadView(source, uid("a", "x-1")).protocol, "NONE");
    assert.equal(workloadView(source, uid("b", "z-1")).protocol, "HBONE");
  });

  test("a selector policy edit pushes the Authorization and the workloads whose policy list moved (§8.2)", () => {
    const { source, log } = mesh([authz("a", "p", { selector: { matchLabels: { app: "x" } }, rules: [{}] })]);
    source.apply({ type: "upsert", object: authz("a", "p", { selector: { matchLabels: { app: "y" } }, rules: [{}] }) });
    // The L4 form has no selector, so the Authorization itself is unchanged: only the two lists move.
    assert.deepEqual(log, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "x-1"), uid("a", "y-1")], removed: [] }]);
    assert.deepEqual(workloadView(source, uid("a", "y-1")).authorizationPolicies, ["a/p"]);

    log.length = 0;
    source.apply({
      type: "upsert",
      object: authz("a", "p", { selector: { matchLabels: { app: "y" } }, action: "DENY", rules: [{}] }),
    });
    assert.deepEqual(log, [{ typeUrl: AUTHORIZATION_TYPE_URL, upserted: ["a/p"], removed: [] }]);
    const sent = source.snapshot(AUTHORIZATION_TYPE_URL).get("a/p");
    assert.ok(sent);
    assert.equal(protoToL4Policy(decodeAuthorization(sent.resource)).action, "DENY");

    log.length = 0;
    source.apply({ type: "delete", kind: "AuthorizationPolicy", namespace: "a", name: "p" });
    assert.deepEqual(log, [
      { typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "y-1")], removed: [] },
      { typeUrl: AUTHORIZATION_TYPE_URL, upserted: [], removed: ["a/p"] },
    ]);
  });

  test("a root-namespace STRICT PeerAuthentication sends istio_converted_static_strict and lists it on every workload (§8.6)", () => {
    const { source, log } = mesh();
    source.apply({
      type: "upsert",
      object: policy("PeerAuthentication", "istio-system", "default", { mtls: { mode: "STRICT" } }),
    });
    assert.deepEqual(log, [
      { typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "x-1"), uid("a", "y-1"), uid("b", "z-1")], removed: [] },
      { typeUrl: AUTHORIZATION_TYPE_URL, upserted: ["istio-system/istio_converted_static_strict"], removed: [] },
    ]);
    assert.deepEqual(workloadView(source, uid("b", "z-1")).authorizationPolicies, [
      "istio-system/istio_converted_static_strict",
    ]);
    log.length = 0;
    source.apply({ type: "delete", kind: "PeerAuthentication", namespace: "istio-system", name: "default" });
    assert.deepEqual(log, [
      { typeUrl: ADDRESS_TYPE_URL, upserted: [uid("a", "x-1"), uid("a", "y-1"), uid("b", "z-1")], removed: [] },
      { typeUrl: AUTHORIZATION_TYPE_URL, upserted: [], removed: ["istio-system/istio_converted_static_strict"] },
    ]);
  });

  test("a Service-targeted policy edit pushes that waypoint's config only (§7, §9)", () => {
    const USE = { "istio.io/use-waypoint": "wp" };
    const target = (methods: string[]) =>
      authz("a", "l7", { targetRefs: [serviceRef("x")], rules: [{ to: [{ operation: { methods } }] }] });
    const { source, log } = mesh([
      waypoint("a", "wp"),
      waypoint("b", "other"),
      { ...svc("a", "x"), metadata: { name: "x", namespace: "a", labels: USE } },
      target(["GET"]),
    ]);
    const before = source.snapshot(WAYPOINT_CONFIG_TYPE_URL).get("a/wp");
    assert.ok(before);
    source.apply({ type: "upsert", object: target(["GET", "POST"]) });
    assert.deepEqual(log, [{ typeUrl: WAYPOINT_CONFIG_TYPE_URL, upserted: ["a/wp"], removed: [] }]);
    const after = source.snapshot(WAYPOINT_CONFIG_TYPE_URL).get("a/wp");
    assert.ok(after);
    assert.notEqual(after.version, before.version);
    const config = JSON.parse(decodeWaypointConfig(after.resource).configJson) as WaypointL7Config;
    assert.deepEqual(
      config.services.map((s) => [s.hostname, s.endpoints.map((e) => e.address)]),
      [["x.a.svc.cluster.local", ["10.0.1.1"]]],
    );
    assert.deepEqual(
      config.authorizationPolicies.map((p) => p.spec?.rules?.[0]?.to?.[0]?.operation?.methods),
      [["GET", "POST"]],
    );
  });

  test("deleting a pod removes its Address and the waypoint config that listed it as an endpoint", () => {
    const USE = { "istio.io/use-waypoint": "wp" };
    const { source, log } = mesh([
      waypoint("a", "wp"),
      { ...svc("a", "x"), metadata: { name: "x", namespace: "a", labels: USE } },
    ]);
    source.apply({ type: "delete", kind: "Pod", namespace: "a", name: "x-1" });
    assert.deepEqual(log, [
      { typeUrl: ADDRESS_TYPE_URL, upserted: [], removed: [uid("a", "x-1")] },
      { typeUrl: WAYPOINT_CONFIG_TYPE_URL, upserted: ["a/wp"], removed: [] },
    ]);
  });
});
