// data-plane.md §1.4 "Response": the inbound ztunnel's 200 carries a `baggage` header describing the destination
// workload (ENABLE_RESPONSE_BAGGAGE, on by default), built like the request's baggage for the source.

import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as h2connect, type IncomingHttpHeaders } from "node:http2";
import { after, before, describe, it } from "node:test";
import { verifyServerIdentity } from "../../src/dataplane/hbone/tls.js";
import { createCsr } from "../../src/identity/csr.js";
import { id, Mesh, type TestNode } from "./harness.js";

describe("ztunnel inbound: baggage on the 200", () => {
  const SERVER_IP = "127.77.41.20";
  let mesh: Mesh;
  let node: TestNode;

  before(async () => {
    mesh = await Mesh.create();
    node = await mesh.node("node-b");
    await mesh.pod(node, {
      uid: "reviews-v2-abc",
      ip: SERVER_IP,
      namespace: "default",
      serviceAccount: "reviews",
      workloadName: "reviews-v2",
      workloadType: "deployment",
      canonicalName: "reviews",
      canonicalRevision: "v2",
      clusterId: "Kubernetes",
    });
    node.state.markSynced();
    await mesh.app(SERVER_IP, 9080, "reviews");
  });

  after(async () => {
    await mesh.close();
  });

  it("answers CONNECT with 200 and the destination workload's baggage", async () => {
    const clientId = id("default", "productpage");
    const { keyPem, csrPem } = await createCsr(clientId);
    const [leaf] = await mesh.ca.sign(csrPem, { node: "node-a", identity: clientId });
    const session = h2connect(`https://${SERVER_IP}:${mesh.hbonePort}`, {
      key: keyPem,
      cert: leaf!,
      ca: mesh.ca.rootPem,
      ALPNProtocols: ["h2"],
      checkServerIdentity: (_h, cert) => verifyServerIdentity(cert, [id("default", "reviews")]),
    });
    try {
      const req = session.request({ ":method": "CONNECT", ":authority": `${SERVER_IP}:9080` }, { endStream: false });
      const [headers] = (await once(req, "response")) as [IncomingHttpHeaders];
      assert.equal(headers[":status"], 200);
      const entries = String(headers.baggage).split(",");
      for (const kv of [
        "k8s.cluster.name=Kubernetes",
        "k8s.namespace.name=default",
        "k8s.deployment.name=reviews-v2",
        "service.name=reviews",
        "service.version=v2",
      ]) {
        assert.ok(entries.includes(kv), `${kv} in ${headers.baggage}`);
      }
      req.end("hi");
      let reply = "";
      req.on("data", (d: Buffer) => {
        reply += d;
      });
      await once(req, "end");
      assert.equal(reply, "reviews:2");
    } finally {
      session.close();
    }
  });
});
