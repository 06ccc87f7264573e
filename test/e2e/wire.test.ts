// What crosses the cluster network (data-plane.md §2, §3; spec/user-needs.md §5.1): between captured pods on two
// nodes only HBONE on 15008 with no plaintext, while uncaptured pods (no label in a plain namespace, or
// `dataplane-mode: none` in an ambient one) talk plaintext; and a ServiceEntry host with `addresses` resolves in
// a pod (the runtime's hosts files, docs/runtime.md) and reaches its endpoint.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LocalMesh } from "../../src/local/local-mesh.js";
import { clusterNetns } from "../../src/runtime/names.js";
import { type FolderMesh, startFolderMesh } from "./folder-mesh.js";
import { inPod, prefixFor, skipReason, waitFor } from "./support.js";
import { captureWire } from "./wire.js";

const reason = await skipReason();
const PREFIX = prefixFor("w");
const SE_HOST = "ext.wire.test";
const SE_VIP = "240.240.0.10";

const pod = (name: string, ns: string, node: string, labels: Record<string, string>, server: boolean) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: ${JSON.stringify({ app: name, ...labels })}
spec:
  serviceAccountName: ${name}
  nodeName: ${node}
  containers:
  - name: main
    command: ${
      server
        ? `["node", "-e", "require('http').createServer((q,s)=>s.end('${name} '+q.url+'\\\\n')).listen(8080)"]
    readinessProbe: {httpGet: {port: 8080}}`
        : `["sleep", "infinity"]`
    }
`;

const FOLDER = [
  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mesh\n  labels: {istio.io/dataplane-mode: ambient}\n",
  "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bare\n",
  pod("client", "mesh", "node-1", {}, false),
  pod("server", "mesh", "node-2", {}, true),
  pod("optout", "mesh", "node-1", { "istio.io/dataplane-mode": "none" }, false),
  pod("plain-client", "bare", "node-1", {}, false),
  pod("plain-server", "bare", "node-2", {}, true),
  `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext
  namespace: mesh
spec:
  hosts: [${SE_HOST}]
  addresses: [${SE_VIP}]
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  resolution: STATIC
  workloadSelector:
    labels: {app: server}
`,
].join("");

describe("ambit up: bytes on the cluster network, opting out, ServiceEntry DNS", { skip: reason }, () => {
  let fm: FolderMesh;
  let _mesh: LocalMesh;
  const running = (name: string) => fm.pod(name);
  /** A request carrying a marker no other traffic has, with tcpdump on every link of the cluster netns. */
  const sniff = async (from: string, to: string) => {
    const marker = `ambit-marker-${from}-${Date.now()}`;
    const target = running(to).ip;
    const wire = await captureWire(clusterNetns(PREFIX), "any", `tcp and host ${target}`);
    let r: Awaited<ReturnType<typeof inPod>>;
    try {
      r = await inPod(running(from).netns, ["curl", "-s", "-m", "5", `http://${target}:8080/${marker}`]);
    } finally {
      // Let the last segments reach the capture before stopping it.
      await new Promise((res) => setTimeout(res, 200));
    }
    const bytes = await wire.stop();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${to} /${marker}\n`, "the request reached the server");
    return { marker, bytes, target };
  };

  before(async () => {
    fm = await startFolderMesh(FOLDER, PREFIX, 3);
    _mesh = fm.mesh;
    await waitFor("capture", () => running("client").captured && running("server").captured);
  });

  after(async () => {
    await fm?.stop();
  });

  it("between captured pods on two nodes the link carries HBONE on 15008 and never the request in plaintext", async () => {
    assert.notEqual(running("client").node, running("server").node);
    const { marker, bytes, target } = await sniff("client", "server");
    assert.match(bytes, new RegExp(`> ${target.replaceAll(".", "\\.")}\\.15008: `), "the flow goes to 15008");
    assert.doesNotMatch(bytes, new RegExp(`> ${target.replaceAll(".", "\\.")}\\.8080: `), "nothing to the app port");
    assert.ok(!bytes.includes(marker), "the marker never appears on the wire");
  });

  it("control: between two uncaptured pods the same request crosses the link in plaintext", async () => {
    assert.equal(running("plain-client").captured, false);
    const { marker, bytes, target } = await sniff("plain-client", "plain-server");
    assert.match(bytes, new RegExp(`> ${target.replaceAll(".", "\\.")}\\.8080: `));
    assert.ok(bytes.includes(marker), "the capture sees plaintext, so the check above can fail");
  });

  it("a pod labelled dataplane-mode none in an ambient namespace is not captured and sends plaintext (no HBONE)", async () => {
    assert.equal(running("optout").captured, false);
    const { marker, bytes, target } = await sniff("optout", "server");
    assert.ok(bytes.includes(marker), "the request is plaintext on the wire");
    assert.match(bytes, new RegExp(`> ${target.replaceAll(".", "\\.")}\\.8080: `), "straight to the app port");
    assert.doesNotMatch(bytes, /\.15008: /, "no HBONE");
  });

  it("a ServiceEntry host with addresses resolves in a pod and reaches its endpoint", async () => {
    const hosts = await inPod(running("client").netns, ["getent", "hosts", SE_HOST]);
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.match(hosts.stdout, new RegExp(`^${SE_VIP.replaceAll(".", "\\.")}\\s+${SE_HOST}`));
    let last = "";
    await waitFor("the ServiceEntry answers", async () => {
      const r = await inPod(running("client").netns, ["curl", "-s", "-m", "5", `http://${SE_HOST}/se`]);
      last = `exit ${r.code}: ${r.stdout}${r.stderr}`;
      return r.stdout === "server /se\n";
    }).catch((e: Error) => assert.fail(`${e.message}; last answer ${last}`));
  });
});
