// Bad input is rejected alone, with an error naming file, line and field; everything else still loads.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadManifests } from "../../src/api/load.js";

const load = (text: string, file = "in.yaml") => loadManifests([{ file, text }]);
const names = (r: ReturnType<typeof load>) =>
  r.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);

describe("loading manifests", () => {
  test("multi-document YAML keeps each object's file and line", () => {
    const r = load(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n# comment\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: a\n",
    );
    assert.deepEqual(names(r), ["Namespace//a", "Service/a/s"]);
    assert.equal(r.objects[1]?.source?.line, 7);
    assert.equal(r.objects[1]?.source?.file, "in.yaml");
  });
  test("List kinds are unpacked, with each item's line", () => {
    const r = load(
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n",
    );
    assert.deepEqual(names(r), ["Namespace//a", "Namespace//b"]);
    assert.equal(r.objects[1]?.source?.line, 7);
  });
  test("a namespaced object without a namespace goes to default; cluster-scoped ones have none", () => {
    const r = load(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n, namespace: x}\n",
    );
    assert.deepEqual(names(r), ["Service/default/s", "Namespace//n"]);
  });
  test("malformed YAML: a syntax error with its line, and the other documents still load", () => {
    const r = load(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Service\n  metadata: : bad\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
    );
    assert.deepEqual(names(r), ["Namespace//a", "Namespace//b"]);
    assert.equal(r.syntaxErrors > 0, true);
    const d = r.diagnostics.find((x) => x.code === "AMB0001");
    assert.equal(d?.level, "Error");
    assert.equal(d?.file, "in.yaml");
    assert.equal(d?.line, 5);
  });
  test("a missing name is rejected with the field and line", () => {
    const r = load(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {a: b}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n",
    );
    assert.deepEqual(names(r), ["Namespace//ok"]);
    const d = r.diagnostics[0];
    assert.equal(d?.code, "IST0106");
    assert.match(d?.message ?? "", /^metadata\.name: is required; object rejected$/);
    assert.equal(d?.line, 3);
  });
  test("an invalid label value is rejected, naming the label's line", () => {
    const r = load("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    app: ok\n    bad: -nope-\n");
    assert.equal(r.objects.length, 0);
    assert.equal(r.diagnostics[0]?.line, 7);
    assert.match(r.diagnostics[0]?.message ?? "", /metadata\.labels\.bad: invalid label value "-nope-"/);
  });
  test("a non-string label value (unquoted true) is rejected", () => {
    const r = load("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    enabled: true\n");
    assert.match(r.diagnostics[0]?.message ?? "", /must be a string, got boolean/);
  });
  test("a policy with both selector and targetRefs is rejected alone", () => {
    const r = load(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  selector:\n    matchLabels: {app: x}\n  targetRefs:\n  - kind: Gateway\n    group: gateway.networking.k8s.io\n    name: w\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    );
    assert.deepEqual(names(r), ["Namespace//a"]);
    const d = r.diagnostics.find((x) => x.code === "IST0106");
    assert.equal(d?.message, "spec.targetRefs: only one of targetRefs or workloadSelector can be set; object rejected");
    assert.equal(d?.line, 7);
    assert.deepEqual(r.rejected, [{ kind: "AuthorizationPolicy", namespace: "a", name: "p", file: "in.yaml" }]);
  });
  test("unknown targetRefs kinds and wrong groups are rejected, naming the field", () => {
    const r = load(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  targetRefs:\n  - kind: Deployment\n    name: w\n  - kind: Service\n    group: apps\n    name: s\n",
    );
    const msgs = r.diagnostics.map((d) => d.message);
    assert.ok(
      msgs.includes(
        'spec.targetRefs.0.kind: unsupported targetRef kind "Deployment": must be one of Service, ServiceEntry, Gateway, GatewayClass; object rejected',
      ),
    );
    assert.ok(
      msgs.includes(
        'spec.targetRefs.1.group: targetRef group for kind Service must be "" or core, got "apps"; object rejected',
      ),
    );
  });
  test("a targetRef namespace is rejected (cross namespace referencing is not supported)", () => {
    const r = load(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: w, namespace: other}\n",
    );
    assert.match(r.diagnostics[0]?.message ?? "", /spec\.targetRef\.namespace: targetRef namespace must not be set/);
  });
  test("duplicate objects: the first wins, the duplicate is an error pointing at both places", () => {
    const r = loadManifests([
      { file: "a.yaml", text: "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n" },
      { file: "b.yaml", text: "apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {x: y}}\n" },
    ]);
    assert.equal(r.objects.length, 1);
    assert.equal(r.objects[0]?.source?.file, "a.yaml");
    assert.equal(r.diagnostics[0]?.message, "duplicate object: already defined at a.yaml:1; this one is ignored");
    assert.equal(r.diagnostics[0]?.file, "b.yaml");
  });
  test("unknown kinds are ignored with an info diagnostic", () => {
    const r = load("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: a}\n");
    assert.equal(r.objects.length, 0);
    assert.equal(r.diagnostics[0]?.level, "Info");
    assert.equal(r.diagnostics[0]?.code, "AMB0002");
  });
  test("the seed's #none is accepted as none, with a warning giving the Kubernetes form", () => {
    const r = load(
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    istio.io/use-waypoint: '#none'\n",
    );
    assert.equal(r.objects[0]?.metadata.labels?.["istio.io/use-waypoint"], "none");
    assert.equal(r.diagnostics[0]?.level, "Warning");
    assert.equal(r.diagnostics[0]?.code, "AMB0004");
    assert.equal(r.diagnostics[0]?.line, 6);
    assert.match(r.diagnostics[0]?.message ?? "", /Write istio\.io\/use-waypoint: none$/);
  });
  test("the seed's {namespace}/{name} becomes use-waypoint + use-waypoint-namespace, with a warning", () => {
    const r = load(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n  labels:\n    istio.io/use-waypoint: infra/wp\n",
    );
    assert.deepEqual(r.objects[0]?.metadata.labels, {
      "istio.io/use-waypoint": "wp",
      "istio.io/use-waypoint-namespace": "infra",
    });
    assert.match(
      r.diagnostics[0]?.message ?? "",
      /Write istio\.io\/use-waypoint: wp and istio\.io\/use-waypoint-namespace: infra$/,
    );
  });
  test("a Deployment with a bad replica count is rejected", () => {
    const r = load(
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: -1\n  template:\n    spec:\n      containers: [{name: c}]\n",
    );
    assert.equal(r.diagnostics[0]?.message, "spec.replicas: must be a non-negative integer; object rejected");
    assert.equal(r.diagnostics[0]?.line, 5);
  });
  test("a Service port out of range is rejected", () => {
    const r = load("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 70000\n");
    assert.equal(
      r.diagnostics[0]?.message,
      "spec.ports.0.port: must be a port number between 1 and 65535; object rejected",
    );
  });
});

describe("policy admission rules through the loader", () => {
  test("the policy engine's validators run when supplied, and an invalid policy is rejected alone", async () => {
    const { POLICY_SPEC_VALIDATORS } = await import("../../src/policy/validate.js");
    const text =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  action: DENY\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: q, namespace: a}\nspec:\n  rules:\n  - to:\n    - operation:\n        ports: ['99999']\n";
    const r = loadManifests([{ file: "p.yaml", text }], POLICY_SPEC_VALIDATORS);
    assert.equal(r.objects.length, 0);
    assert.equal(r.diagnostics.length, 2);
    assert.equal(r.diagnostics[0]?.line, 4);
    assert.match(r.diagnostics[1]?.message ?? "", /^spec\.rules\.0\.to\.0\.operation\.ports\.0: /);
    assert.equal(r.diagnostics[1]?.line, 14);
  });
  test("more than 16 targetRefs is rejected for every policy kind", () => {
    const refs = Array.from({ length: 17 }, (_, i) => `  - {kind: Service, group: "", name: s${i}}`).join("\n");
    const r = load(
      `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  targetRefs:\n${refs}\n`,
    );
    assert.equal(r.diagnostics[0]?.message, "spec.targetRefs: must have at most 16 items; object rejected");
  });
});
