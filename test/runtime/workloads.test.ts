// Which pods `ambit up` runs (issue 6: Pods, and Deployments with replicas), named as a ReplicaSet names
// them and the same on every run.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Deployment, KubeObject } from "../../src/api/resources.js";
import { podsFromObjects, podsOfDeployment } from "../../src/runtime/workloads.js";

const deployment: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "reviews-v2", namespace: "bookinfo" },
  spec: {
    replicas: 3,
    template: {
      metadata: { labels: { app: "reviews", version: "v2" } },
      spec: { serviceAccountName: "bookinfo-reviews", containers: [{ name: "reviews", command: ["node"] }] },
    },
  },
};

test("a Deployment yields `replicas` pods named <deployment>-<hash>-<suffix>, deterministically", () => {
  const pods = podsOfDeployment(deployment);
  assert.equal(pods.length, 3);
  for (const p of pods) {
    assert.match(p.metadata.name, /^reviews-v2-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(p.metadata.namespace, "bookinfo");
    assert.equal(p.metadata.labels?.app, "reviews");
    assert.equal(p.spec?.serviceAccountName, "bookinfo-reviews");
  }
  assert.equal(new Set(pods.map((p) => p.metadata.name)).size, 3);
  assert.deepEqual(
    podsOfDeployment(deployment).map((p) => p.metadata.name),
    pods.map((p) => p.metadata.name),
  );
});

test("replicas defaults to 1 and Pods pass through; other kinds yield nothing", () => {
  const one = { ...deployment, spec: { ...deployment.spec!, replicas: undefined } } as Deployment;
  const pod: KubeObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "curl", namespace: "x" } };
  const svc: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "s" } };
  const pods = podsFromObjects([pod, one, svc]);
  assert.equal(pods.length, 2);
  assert.equal(pods[0], pod);
});
