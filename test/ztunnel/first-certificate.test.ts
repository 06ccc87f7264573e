// A pod's first inbound tunnel can arrive while its ztunnel is still fetching the pod's certificate. ztunnel
// waits for that fetch instead of refusing the client (data-plane.md §4.3: certificates per workload identity,
// fetched on demand), so the very first connection to a just-enrolled pod succeeds.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { exchange, id, Mesh, type TestNode, type TestPod } from "./harness.js";

describe("ztunnel: a pod's first tunnel while its certificate is being issued", () => {
  const SIGN_DELAY_MS = 400;
  let mesh: Mesh;
  let a: TestNode;
  let slow: TestNode;
  let client: TestPod;

  before(async () => {
    mesh = await Mesh.create();
    a = await mesh.node("node-a");
    slow = await mesh.node("node-slow", undefined, {}, SIGN_DELAY_MS);
    client = await mesh.pod(a, { uid: "client", ip: "127.77.31.10", serviceAccount: "client" });
    for (const n of mesh.nodes) n.state.markSynced();
    // The client's own certificate is ready; only the destination's is slow.
    await a.certs.get(id("default", "client"));
  });

  after(async () => {
    await mesh.close();
  });

  it("the first connection to a just-enrolled pod waits for its certificate and gets through", async () => {
    await mesh.pod(slow, { uid: "fresh", ip: "127.77.31.20", serviceAccount: "fresh" });
    await mesh.app("127.77.31.20", 8080, "fresh");
    assert.equal(slow.certs.peek(id("default", "fresh")), undefined, "the certificate is still being issued");
    const started = Date.now();
    const r = await exchange(client.outbound, { address: "127.77.31.20", port: 8080 }, "first");
    assert.equal(r.error, undefined);
    assert.equal(r.reply, "fresh:5");
    assert.ok(slow.certs.peek(id("default", "fresh")), "served with the certificate that was issued meanwhile");
    assert.ok(Date.now() - started < 5_000);
  });
});
