// ServiceEntries and ingress-use-waypoint (spec/control-plane.md §4 per source kind, §6 WaypointBound messages).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MeshModel } from "../../src/mesh/model.js";
import { ns, serviceEntry, svc, waypoint } from "../helpers/objects.js";

const USE = "istio.io/use-waypoint";
const FOR = "istio.io/waypoint-for";

describe("ServiceEntry bindings", () => {
  test("a ServiceEntry binds like a Service and gets WaypointBound", () => {
    const m = MeshModel.build([waypoint("a", "wp"), serviceEntry("a", "ext", { [USE]: "wp" })]);
    const se = m.service("ServiceEntry", "a", "ext");
    assert.equal(se?.binding.waypoint?.name, "wp");
    assert.equal(se?.conditions[0]?.message, "Successfully attached to waypoint a/wp");
  });
  test("inline endpoints are workloads whose own labels play the object role (the ServiceEntry's labels are not consulted)", () => {
    const m = MeshModel.build([
      waypoint("a", "wp", { labels: { [FOR]: "all" } }),
      serviceEntry("a", "ext", { [USE]: "wp" }, [
        { address: "1.2.3.4" },
        { address: "5.6.7.8", labels: { [USE]: "none" } },
      ]),
    ]);
    assert.equal(m.workload("ServiceEntryEndpoint/a/ext@1.2.3.4")?.binding.waypoint, null);
    assert.equal(m.workload("ServiceEntryEndpoint/a/ext@5.6.7.8")?.binding.requested, "none");
  });
  test("inline endpoints inherit the ServiceEntry namespace's label", () => {
    const m = MeshModel.build([
      ns("a", { [USE]: "wp" }),
      waypoint("a", "wp", { labels: { [FOR]: "workload" } }),
      serviceEntry("a", "ext", {}, [{ address: "1.2.3.4" }]),
    ]);
    assert.equal(m.workload("ServiceEntryEndpoint/a/ext@1.2.3.4")?.binding.waypoint?.name, "wp");
  });
});

describe("ingress-use-waypoint (WaypointBound message suffix)", () => {
  const msg = (svcLabels: Record<string, string>, nsLabels: Record<string, string> = {}) =>
    MeshModel.build([ns("a", nsLabels), waypoint("a", "wp"), svc("a", "s", { [USE]: "wp", ...svcLabels })]).service(
      "Service",
      "a",
      "s",
    )?.conditions[0]?.message;
  test("label true (Go ParseBool: true, True, TRUE, t, 1) → traverse", () => {
    for (const v of ["true", "True", "TRUE", "t", "1"]) {
      assert.equal(
        msg({ "istio.io/ingress-use-waypoint": v }),
        "Successfully attached to waypoint a/wp. Ingress traffic will traverse the waypoint",
      );
    }
  });
  test("label present but not true (false, garbage) → the hint", () => {
    for (const v of ["false", "eurt"]) {
      assert.equal(
        msg({ "istio.io/ingress-use-waypoint": v }),
        "Successfully attached to waypoint a/wp. Ingress traffic is not using the waypoint, set the istio.io/ingress-use-waypoint label to true if desired.",
      );
    }
  });
  test("label absent → no suffix; the namespace's label counts when the Service has none", () => {
    assert.equal(msg({}), "Successfully attached to waypoint a/wp");
    assert.equal(
      msg({}, { "istio.io/ingress-use-waypoint": "true" }),
      "Successfully attached to waypoint a/wp. Ingress traffic will traverse the waypoint",
    );
  });
});
