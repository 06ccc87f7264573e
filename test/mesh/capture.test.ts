// spec/control-plane.md §2: capture (`istio.io/dataplane-mode`), decided as istio-cni does.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MeshModel } from "../../src/mesh/model.js";
import { ns, pod } from "../helpers/objects.js";

function captured(
  nsLabels: Record<string, string>,
  podLabels: Record<string, string>,
  extra = {},
  namespace = "app",
): boolean {
  const model = MeshModel.build([ns(namespace, nsLabels), pod(namespace, "p", podLabels, extra)]);
  const w = model.workload(`Pod/${namespace}/p`);
  assert.ok(w);
  return w.captured;
}

const MODE = "istio.io/dataplane-mode";

describe("capture (§2)", () => {
  test("namespace ambient captures its pods", () => assert.equal(captured({ [MODE]: "ambient" }, {}), true));
  test("pod label none beats namespace ambient", () =>
    assert.equal(captured({ [MODE]: "ambient" }, { [MODE]: "none" }), false));
  test("pod label ambient beats namespace none", () =>
    assert.equal(captured({ [MODE]: "none" }, { [MODE]: "ambient" }), true));
  test("pod label ambient captures in an unlabeled namespace", () =>
    assert.equal(captured({}, { [MODE]: "ambient" }), true));
  test("any pod value other than none inherits a namespace ambient (selector is NotIn [none])", () =>
    assert.equal(captured({ [MODE]: "ambient" }, { [MODE]: "foo" }), true));
  test("values are case-sensitive: Ambient does not enroll", () => {
    assert.equal(captured({ [MODE]: "Ambient" }, {}), false);
    assert.equal(captured({}, { [MODE]: "Ambient" }), false);
  });
  test("no labels: not captured", () => assert.equal(captured({}, {}), false));
  test("excluded namespace (kube-system) is never captured, even when labels ask", () =>
    assert.equal(captured({ [MODE]: "ambient" }, { [MODE]: "ambient" }, {}, "kube-system"), false));
  test("hostNetwork pods are never captured", () =>
    assert.equal(captured({ [MODE]: "ambient" }, { [MODE]: "ambient" }, { hostNetwork: true }), false));
  test("the sidecar-status annotation excludes a pod (sidecar wins)", () =>
    assert.equal(
      captured({ [MODE]: "ambient" }, { [MODE]: "ambient" }, { annotations: { "sidecar.istio.io/status": "{}" } }),
      false,
    ));
  test("a container named istio-proxy without the annotation is still captured", () =>
    assert.equal(captured({ [MODE]: "ambient" }, {}, { containers: [{ name: "istio-proxy" }] }), true));
  test("the reason names the deciding label", () => {
    const model = MeshModel.build([ns("app", { [MODE]: "ambient" }), pod("app", "p", { [MODE]: "none" })]);
    assert.match(
      model.workload("Pod/app/p")?.captureReason ?? "",
      /pod label istio\.io\/dataplane-mode=none overrides/,
    );
  });

  test("property: a pod labelled none is never captured; a pod labelled ambient always is (outside exclusions)", () => {
    const nsMode = fc.constantFrom(undefined, "ambient", "none", "foo");
    fc.assert(
      fc.property(nsMode, fc.constantFrom("ambient", "none"), (n, p) => {
        const labels: Record<string, string> = n === undefined ? {} : { [MODE]: n };
        return captured(labels, { [MODE]: p }) === (p === "ambient");
      }),
    );
  });
});

describe("workload names (the Deployment a pod belongs to)", () => {
  test("a ReplicaSet owner reference names the Deployment (pod-template-hash stripped)", async () => {
    const { podOwner } = await import("../../src/mesh/workload-inputs.js");
    const p = pod("app", "web-6d4f9-abcde", { "pod-template-hash": "6d4f9" });
    p.metadata.ownerReferences = [{ kind: "ReplicaSet", name: "web-6d4f9", controller: true }];
    assert.equal(podOwner(p), "web");
    assert.equal(podOwner(pod("app", "web-6d4f9-abcde", { "pod-template-hash": "6d4f9" })), "web");
    const job = pod("app", "job-x");
    job.metadata.ownerReferences = [{ kind: "Job", name: "nightly" }];
    assert.equal(podOwner(job), "nightly");
    assert.equal(podOwner(pod("app", "lonely")), undefined);
  });
});
