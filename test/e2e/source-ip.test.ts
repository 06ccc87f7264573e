// The client's source IP across the mesh (data-plane.md §2.2 in-pod mode, §2.5; policy.md ipBlocks): ztunnel dials
// each pod's HBONE from inside the pod, so the destination ztunnel's peer is the client pod's IP, which it matches
// against ipBlocks and presents to the app with a transparent connect. Through a waypoint the app sees the
// waypoint's IP (Istio's waypoints do not spoof the client).
import assert from "node:assert/strict";
import { unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LocalMesh } from "../../src/local/local-mesh.js";
import { type FolderMesh, startFolderMesh, waypointsReady } from "./folder-mesh.js";
import { inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("s");

const service = (name: string, labels: Record<string, string>) => `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: srcip
  labels: ${JSON.stringify(labels)}
spec:
  selector: {app: peer}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`;

const FOLDER = [
  `apiVersion: v1
kind: Namespace
metadata:
  name: srcip
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata:
  name: peer
  namespace: srcip
  labels: {app: peer}
spec:
  serviceAccountName: peer
  nodeName: node-2
  containers:
  - name: main
    command: ["node", "-e", "require('http').createServer((q,s)=>s.end('peer '+q.socket.remoteAddress)).listen(8080)"]
    readinessProbe: {httpGet: {port: 8080}}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: srcip
  labels: {app: client}
spec:
  serviceAccountName: client
  nodeName: node-1
  containers:
  - name: main
    command: ["sleep", "infinity"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: srcip
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
`,
  service("direct", {}),
  service("via-waypoint", { "istio.io/use-waypoint": "waypoint" }),
].join("");

const allowFrom = (ip: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-ip
  namespace: srcip
spec:
  selector:
    matchLabels: {app: peer}
  action: ALLOW
  rules:
  - from:
    - source:
        ipBlocks: ["${ip}"]
`;

describe("ambit up: the client pod's source IP reaches the app and ztunnel's ipBlocks", { skip: reason }, () => {
  let fm: FolderMesh;
  let mesh: LocalMesh;
  const running = (name: string) => fm.pod(name);
  const curl = (url: string) => inPod(running("client").netns, ["curl", "-s", "-m", "5", url]);
  /** The app's peer address, without the IPv4-mapped prefix of its dual-stack listener. */
  const peer = async (url: string) => (await curl(url)).stdout.replace("::ffff:", "");

  before(async () => {
    fm = await startFolderMesh(FOLDER, PREFIX, 5);
    mesh = fm.mesh;
    await waypointsReady(mesh, 1);
    await waitFor("capture", () => running("client").captured && running("peer").captured);
    assert.notEqual(running("client").node, running("peer").node, "the call crosses nodes");
  });

  after(async () => {
    await fm?.stop();
  });

  // §2.5: the inbound leg binds the HBONE peer's address, which in-pod dialing makes the client pod's IP.
  it("by Service VIP without a waypoint, the app sees the client pod's IP", async () => {
    let last = "";
    await waitFor("an answer", async () => {
      const r = await curl("http://direct/");
      last = `exit ${r.code}: ${r.stdout}`;
      return r.code === 0;
    }).catch((e: Error) => assert.fail(`${e.message}; last ${last}`));
    assert.equal(await peer("http://direct/"), `peer ${running("client").ip}`);
  });

  // policy.md ipBlocks at the destination ztunnel (data-plane.md §5): source.ip is the client pod's IP.
  it("an ipBlocks ALLOW for another IP resets the client; one for the client's pod IP lets it through", async () => {
    const file = join(fm.dir, "allow.yaml");
    try {
      writeFileSync(file, allowFrom("10.255.255.254"));
      await waitFor(
        "ALLOW for another IP resets (curl exit 56)",
        async () => (await curl("http://direct/")).code === 56,
      );
      writeFileSync(file, allowFrom(running("client").ip));
      await waitFor("ALLOW for the client's IP admits", async () => (await curl("http://direct/")).code === 0);
      assert.equal(await peer("http://direct/"), `peer ${running("client").ip}`);
    } finally {
      unlinkSync(file);
      await mesh.settled();
    }
  });

  // §2.5, data-plane.md (b) 7: through a waypoint the app sees the waypoint's IP (it dials from its own pod).
  it("through a waypoint the app sees the waypoint pod's IP", async () => {
    const wp = mesh.state().waypoints[0]!;
    let last = "";
    await waitFor("the waypoint's IP", async () => {
      last = await peer("http://via-waypoint/");
      return last === `peer ${wp.ip}`;
    }).catch((e: Error) => assert.fail(`${e.message}; last ${last}`));
  });
});
