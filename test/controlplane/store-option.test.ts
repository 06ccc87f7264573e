// The local runtime hands the control plane its own store (what a cluster would report: pod IPs, nodes), so
// ControlPlane must read that store instead of a FileStore and close it on stop (issue 6; data-plane.md §4.1).
import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import type { KubeObject } from "../../src/api/resources.js";
import { MemoryStore } from "../../src/config/memory-store.js";
import { ControlPlane } from "../../src/controlplane/control-plane.js";
import { XdsClient } from "../../src/xds/client.js";
import { ADDRESS_TYPE_URL } from "../../src/xds/types.js";
import { waitFor } from "./fixtures.js";

class ClosableStore extends MemoryStore {
  closed = false;
  close(): void {
    this.closed = true;
  }
}

const pod = (ip: string): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web-1", namespace: "app", labels: { app: "web" } },
    spec: { nodeName: "node-1", containers: [{ name: "web" }] },
    status: { podIP: ip },
  }) as KubeObject;

test("a given store replaces the folder: its objects and its upserts reach xDS, and stop() closes it", async () => {
  const store = new ClosableStore([pod("10.1.0.1")]);
  const cp = new ControlPlane({ folder: "/nonexistent", store, logger: pino({ level: "silent" }), pushWindowMs: 1 });
  await cp.start();
  const client = new XdsClient({
    address: `127.0.0.1:${cp.xdsPort}`,
    typeUrls: [ADDRESS_TYPE_URL],
    node: { id: "ztunnel~10.1.0.100~ztunnel-a.istio-system~istio-system.svc.cluster.local" },
  });
  try {
    client.start();
    await waitFor(() => client.resources(ADDRESS_TYPE_URL).has("Kubernetes//Pod/app/web-1"), "pod from the store");
    assert.equal(cp.model.workload("Pod/app/web-1")?.ip, "10.1.0.1");
    store.upsert(pod("10.1.0.7"));
    await waitFor(() => cp.model.workload("Pod/app/web-1")?.ip === "10.1.0.7", "upsert applied");
  } finally {
    client.stop();
    await cp.stop();
  }
  assert.equal(store.closed, true);
});
