// spec/control-plane.md §3 and §5: which Gateways are waypoints, traffic type, readiness, address.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MeshModel } from "../../src/mesh/model.js";
import { gatewayClass, waypoint } from "../helpers/objects.js";

const FOR = "istio.io/waypoint-for";

describe("waypoints (§3)", () => {
  test("traffic type defaults to service", () => {
    const m = MeshModel.build([waypoint("a", "wp")]);
    assert.equal(m.waypoint("a", "wp")?.trafficType, "service");
  });
  test("a GatewayClass label overrides the default; a Gateway label overrides the class", () => {
    const cls = gatewayClass("istio-waypoint", "istio.io/mesh-controller", { [FOR]: "workload" });
    const m1 = MeshModel.build([cls, waypoint("a", "wp")]);
    assert.equal(m1.waypoint("a", "wp")?.trafficType, "workload");
    const m2 = MeshModel.build([cls, waypoint("a", "wp", { labels: { [FOR]: "all" } })]);
    assert.equal(m2.waypoint("a", "wp")?.trafficType, "all");
  });
  test("unknown waypoint-for values are kept verbatim (and accept nothing)", () => {
    const m = MeshModel.build([waypoint("a", "wp", { labels: { [FOR]: "Service" } })]);
    assert.equal(m.waypoint("a", "wp")?.trafficType, "Service");
  });
  test("snapshot: a Gateway is a waypoint iff status.addresses is non-empty, whatever its class", () => {
    const opts = { mode: "snapshot" as const };
    const none = MeshModel.build([waypoint("a", "wp")], opts);
    assert.equal(none.waypoint("a", "wp")?.ready, false);
    const other = MeshModel.build(
      [waypoint("a", "wp", { className: "istio", addresses: [{ type: "IPAddress", value: "10.0.0.9" }] })],
      opts,
    );
    assert.equal(other.waypoint("a", "wp")?.ready, true);
    assert.equal(other.waypoint("a", "wp")?.address, "10.0.0.9");
  });
  test("the first Hostname status address wins over IPs", () => {
    const m = MeshModel.build(
      [
        waypoint("a", "wp", {
          addresses: [
            { type: "IPAddress", value: "10.0.0.9" },
            { type: "Hostname", value: "wp.a.svc.cluster.local" },
          ],
        }),
      ],
      { mode: "snapshot" },
    );
    assert.equal(m.waypoint("a", "wp")?.address, "wp.a.svc.cluster.local");
  });
  test("an unparseable IP address is skipped", () => {
    const m = MeshModel.build([waypoint("a", "wp", { addresses: [{ type: "IPAddress", value: "not-an-ip" }] })], {
      mode: "snapshot",
    });
    assert.equal(m.waypoint("a", "wp")?.ready, false);
  });
  test("plan: a mesh-managed waypoint counts as deployed, addressed by its Service hostname", () => {
    const m = MeshModel.build([waypoint("a", "wp")]);
    assert.equal(m.waypoint("a", "wp")?.ready, true);
    assert.equal(m.waypoint("a", "wp")?.address, "wp.a.svc.cluster.local");
  });
  test("plan: a Gateway of a class not managed by istio.io/mesh-controller is not ready without status", () => {
    const m = MeshModel.build([gatewayClass("other", "example.com/ctrl"), waypoint("a", "wp", { className: "other" })]);
    assert.equal(m.waypoint("a", "wp")?.ready, false);
  });
  test("allowedRoutes default to Same; All and Selector are read from the 15008 HBONE listener", () => {
    assert.deepEqual(MeshModel.build([waypoint("a", "wp")]).waypoint("a", "wp")?.allowedRoutes, { from: "Same" });
    assert.deepEqual(
      MeshModel.build([waypoint("a", "wp", { allowedFrom: "All" })]).waypoint("a", "wp")?.allowedRoutes,
      { from: "All" },
    );
    const other = waypoint("a", "wp", {
      listeners: [{ name: "x", port: 8080, protocol: "HTTP", allowedRoutes: { namespaces: { from: "All" } } }],
    });
    assert.deepEqual(MeshModel.build([other]).waypoint("a", "wp")?.allowedRoutes, { from: "Same" });
  });
});
