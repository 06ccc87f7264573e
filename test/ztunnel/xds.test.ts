// The ztunnel configured over delta xDS: Address and Authorization resources reach the proxy state, and the last
// good state keeps serving while the control plane is away. Spec: data-plane.md §4.1, §(b) 10.

import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { feedFromXds } from "../../src/dataplane/state/from-xds.js";
import { ProxyState } from "../../src/dataplane/state/proxy-state.js";
import type { L4Policy } from "../../src/policy/ztunnel-policy.js";
import { XdsClient } from "../../src/xds/client.js";
import { ipToBytes, l4PolicyToProto } from "../../src/xds/convert/index.js";
import { TunnelProtocol, WorkloadSchema } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { MemorySource } from "../../src/xds/memory-source.js";
import { addressResource, authorizationResource } from "../../src/xds/resources.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/types.js";
import { exchange, Mesh, type TestPod } from "./harness.js";

const CLIENT_IP = "127.77.4.10";
const SERVER_IP = "127.77.5.10";

function workload(uid: string, ip: string, sa: string) {
  return addressResource({
    $typeName: "istio.workload.Address",
    type: {
      case: "workload",
      value: create(WorkloadSchema, {
        uid,
        name: uid,
        namespace: "default",
        addresses: [ipToBytes(ip)],
        tunnelProtocol: TunnelProtocol.HBONE,
        serviceAccount: sa,
        workloadName: uid,
      }),
    },
  });
}

describe("ztunnel fed by xDS", () => {
  let mesh: Mesh;
  let server: XdsServer;
  let source: MemorySource;
  let client: TestPod;
  const clients: XdsClient[] = [];
  const states: ProxyState[] = [];

  before(async () => {
    source = new MemorySource();
    source.apply(ADDRESS_TYPE_URL, [workload("client", CLIENT_IP, "client"), workload("server", SERVER_IP, "server")]);
    server = new XdsServer({ source });
    const port = await server.start();
    mesh = await Mesh.create();
    for (const name of ["node-a", "node-b"]) {
      const state = new ProxyState();
      const xds = new XdsClient({
        address: `127.0.0.1:${port}`,
        typeUrls: [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL],
        node: { id: `ztunnel~127.0.0.1~${name}.istio-system~istio-system.svc.cluster.local` },
        backoff: { initialMs: 20, maxMs: 100 },
      });
      feedFromXds(state, xds);
      const synced = once(state, "synced");
      xds.start();
      await synced;
      clients.push(xds);
      states.push(state);
      await mesh.node(name, state);
    }
    client = await mesh.enroll(mesh.nodes[0]!, "client", CLIENT_IP);
    await mesh.enroll(mesh.nodes[1]!, "server", SERVER_IP);
    await mesh.app(SERVER_IP, 8080, "srv");
  });

  after(async () => {
    await mesh.close();
    for (const c of clients) await c.stop();
    await server.stop();
  });

  it("workloads sent as Address resources are routable by IP with their identity", async () => {
    const w = states[0]!.workloadByIp(SERVER_IP);
    assert.equal(w?.uid, "server");
    assert.equal(w?.serviceAccount, "server");
    assert.equal(w?.trustDomain, "cluster.local");
    const r = await exchange(client.outbound, { address: SERVER_IP, port: 8080 }, "hi");
    assert.equal(r.reply, "srv:2");
  });

  it("an Authorization pushed over xDS is enforced, and its removal lifts it", async () => {
    const deny: L4Policy = {
      name: "deny-all",
      namespace: "default",
      scope: "NAMESPACE",
      action: "DENY",
      groups: [{ rules: [] }],
      dryRun: false,
    };
    const changed = once(states[1]!, "change");
    source.apply(AUTHORIZATION_TYPE_URL, [authorizationResource(l4PolicyToProto(deny))]);
    await changed;
    assert.deepEqual(states[1]!.policies(), [deny]);
    const refused = await exchange(client.outbound, { address: SERVER_IP, port: 8080 }, "hi");
    assert.equal(refused.error?.code, "ECONNRESET");
    const lifted = once(states[1]!, "change");
    source.remove(AUTHORIZATION_TYPE_URL, "default/deny-all");
    await lifted;
    assert.deepEqual(states[1]!.policies(), []);
  });

  it("keeps the last good state and keeps serving when the control plane goes away", async () => {
    const gone = Promise.all(clients.map((c) => once(c, "disconnected")));
    await server.stop();
    await gone;
    assert.equal(states[0]!.workloadByIp(SERVER_IP)?.uid, "server");
    assert.equal((await exchange(client.outbound, { address: SERVER_IP, port: 8080 }, "still")).reply, "srv:5");
    assert.equal(mesh.nodes[0]!.ztunnel.ready, true);
  });
});
