// Readiness, lazy workload arrival and draining. Spec: data-plane.md §2.1 (15021), §2.2 (lazy readiness,
// shutdown), §(b) 10.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workloadView } from "../../src/dataplane/state/types.js";
import { exchange, get, Mesh, open } from "./harness.js";

describe("ztunnel lifecycle", () => {
  it("is not ready until the control plane's first answer, then ready", async () => {
    const mesh = await Mesh.create();
    try {
      const a = await mesh.node("node-a");
      assert.equal((await get(a.ztunnel.ports.readiness, "/healthz/ready")).status, 503);
      a.state.markSynced();
      assert.equal((await get(a.ztunnel.ports.readiness, "/healthz/ready")).status, 200);
    } finally {
      await mesh.close();
    }
  });

  // §2.2 "Lazy readiness": listeners accept before the workload is known and hold the connection until it is.
  it("holds a pod's first connection until its workload arrives", async () => {
    const mesh = await Mesh.create();
    try {
      const a = await mesh.node("node-a");
      const b = await mesh.node("node-b");
      await mesh.pod(b, { uid: "server", ip: "127.77.6.10" });
      await mesh.app("127.77.6.10", 8080, "srv");
      const pod = await mesh.enroll(a, "late", "127.77.6.20");
      const pending = exchange(pod.outbound, { address: "127.77.6.10", port: 8080 }, "abc");
      await new Promise((r) => setTimeout(r, 50));
      mesh.update({
        workloads: {
          upsert: [workloadView({ uid: "late", name: "late", namespace: "default", addresses: ["127.77.6.20"] })],
        },
      });
      assert.equal((await pending).reply, "srv:3");
    } finally {
      await mesh.close();
    }
  });

  // §2.2 "Shutdown": on ZDS `del` the pod's proxy is torn down at once and its connections are cut.
  it("removing a pod cuts its connections and stops its listeners", async () => {
    const mesh = await Mesh.create();
    try {
      const a = await mesh.node("node-a");
      const b = await mesh.node("node-b");
      const client = await mesh.pod(a, { uid: "client", ip: "127.77.8.10" });
      await mesh.pod(b, { uid: "server", ip: "127.77.8.20" });
      await mesh.echo("127.77.8.20", 9090);
      const s = await open(client.outbound, { address: "127.77.8.20", port: 9090 });
      s.on("error", () => {});
      s.write("x");
      await new Promise((r) => s.once("data", r));
      const closed = new Promise((r) => s.once("close", r));
      await a.ztunnel.removeWorkload("client");
      await closed;
      assert.equal(a.ztunnel.connections().length, 0);
      const again = await exchange(client.outbound, { address: "127.77.8.20", port: 9090 }, "y");
      assert.equal(again.error?.code, "ECONNREFUSED");
      assert.deepEqual(a.certs.identities(), [], "the pod's identity is no longer renewed on this node");
    } finally {
      await mesh.close();
    }
  });

  // §2.2 "Shutdown": draining refuses new connections, lets open ones finish, and cuts the rest at the deadline.
  it("drain stops accepting and waits for open connections up to the grace period", async () => {
    const mesh = await Mesh.create();
    try {
      const a = await mesh.node("node-a");
      const b = await mesh.node("node-b");
      const client = await mesh.pod(a, { uid: "client", ip: "127.77.7.10" });
      await mesh.pod(b, { uid: "server", ip: "127.77.7.20" });
      await mesh.echo("127.77.7.20", 9090);
      const s = await open(client.outbound, { address: "127.77.7.20", port: 9090 });
      s.on("error", () => {});
      s.write("x");
      await new Promise((r) => s.once("data", r));
      const closed = new Promise<number>((r) => s.once("close", () => r(Date.now())));
      const start = Date.now();
      const drained = a.ztunnel.drain(400);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(a.ztunnel.ready, false);
      const refused = await exchange(client.outbound, { address: "127.77.7.20", port: 9090 }, "y");
      assert.equal(refused.reply, "", "a draining pod proxy takes no new connections");
      s.write("still");
      const echoed = await new Promise<string>((r) => s.once("data", (d: Buffer) => r(d.toString())));
      assert.equal(echoed, "still", "open connections keep working while draining");
      await drained;
      const end = await closed;
      assert.ok(end - start >= 350, `cut at the deadline, not before (${end - start} ms)`);
      assert.equal(a.ztunnel.connections().length, 0);
    } finally {
      await mesh.close();
    }
  });
});
