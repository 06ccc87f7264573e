// What a container runs with (Kubernetes semantics the issue names): command replaces the entrypoint, args
// follow; env values, $(VAR) expansion, fieldRefs; HOSTNAME = pod name; no command -> ImageEntrypointUnsupported.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "../../src/api/resources.js";
import { isAmbitError } from "../../src/errors.js";
import { containerPlan, expand, fieldValue, podFacts } from "../../src/runtime/container-env.js";

const pod: Pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "reviews-v1-abc", namespace: "bookinfo", labels: { app: "reviews" }, annotations: { a: "1" } },
  spec: { serviceAccountName: "bookinfo-reviews", containers: [] },
};
const facts = podFacts(pod, { podIP: "10.88.0.12", nodeName: "node-2", hostIP: "10.88.0.2" });

test("every supported fieldRef reads the pod's facts", () => {
  assert.equal(fieldValue(facts, "metadata.name"), "reviews-v1-abc");
  assert.equal(fieldValue(facts, "metadata.namespace"), "bookinfo");
  assert.equal(fieldValue(facts, "status.podIP"), "10.88.0.12");
  assert.equal(fieldValue(facts, "spec.serviceAccountName"), "bookinfo-reviews");
  assert.equal(fieldValue(facts, "spec.nodeName"), "node-2");
  assert.equal(fieldValue(facts, "status.hostIP"), "10.88.0.2");
  assert.equal(fieldValue(facts, "metadata.labels['app']"), "reviews");
  assert.equal(fieldValue(facts, "metadata.annotations['a']"), "1");
  assert.equal(fieldValue(facts, "metadata.labels['missing']"), "");
  assert.throws(
    () => fieldValue(facts, "metadata.uid"),
    (e) => isAmbitError(e, "AMBIT_RUNTIME_UNSUPPORTED_FIELD"),
  );
});

test("the service account defaults to 'default' as in Kubernetes", () => {
  const bare = podFacts({ ...pod, spec: { containers: [] } }, { podIP: "", nodeName: "", hostIP: "" });
  assert.equal(bare.serviceAccountName, "default");
});

test("$(VAR) expands defined names, leaves undefined ones and unescapes $$", () => {
  assert.equal(expand("$(A)-$(B)-$$(A)", { A: "x" }), "x-$(B)-$(A)");
});

test("command + args form argv; HOSTNAME is the pod name unless the container sets it", () => {
  const plan = containerPlan(
    {
      name: "c",
      command: ["node", "app.js"],
      args: ["--name", "$(POD)"],
      env: [
        { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "MSG", value: "hi $(POD)" },
      ],
    },
    facts,
    { baseEnv: { PATH: "/bin", POD: "base" } },
  );
  assert.deepEqual(plan, {
    runnable: true,
    argv: ["node", "app.js", "--name", "reviews-v1-abc"],
    env: { PATH: "/bin", POD: "reviews-v1-abc", HOSTNAME: "reviews-v1-abc", MSG: "hi reviews-v1-abc" },
  });
  const own = containerPlan({ name: "c", command: ["x"], env: [{ name: "HOSTNAME", value: "h" }] }, facts);
  assert.equal(own.runnable && own.env.HOSTNAME, "h");
});

test("without command the container cannot run: ImageEntrypointUnsupported names the image", () => {
  const plan = containerPlan({ name: "c", image: "istio/examples-bookinfo-details-v1", args: ["x"] }, facts);
  assert.equal(plan.runnable, false);
  assert.equal(!plan.runnable && plan.reason, "ImageEntrypointUnsupported");
  assert.match(!plan.runnable ? plan.message : "", /istio\/examples-bookinfo-details-v1/);
});
