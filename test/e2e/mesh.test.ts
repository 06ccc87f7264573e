// Istio's ambient getting-started and L4/L7 tasks (spec/user-needs.md §5.1; data-plane.md §2, §3, §6; policy.md)
// on a small folder, with real clients inside pod netns: enrollment by label, mTLS between nodes, L4 deny, a
// waypoint with an L7 policy, weighted routing, use-waypoint precedence, opting out, and a clean teardown.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalMesh } from "../../src/local/local-mesh.js";
import { leftovers } from "../../src/runtime/index.js";
import { cidrsFor, inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("m");

const nsYaml = (labels: Record<string, string>) => `apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: ${JSON.stringify(labels)}
`;

const service = (name: string, selector: Record<string, string>, labels: Record<string, string> = {}) => `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: demo
  labels: ${JSON.stringify(labels)}
spec:
  selector: ${JSON.stringify(selector)}
  ports:
  - name: http
    port: 80
    targetPort: 8080
`;

const echo = (version: string) => `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo-${version}
  namespace: demo
spec:
  replicas: 1
  selector:
    matchLabels: {app: echo, version: ${version}}
  template:
    metadata:
      labels: {app: echo, version: ${version}}
    spec:
      serviceAccountName: echo
      nodeName: node-2
      containers:
      - name: echo
        command: ["node", "-e", "require('http').createServer((q,s)=>s.end('${version} '+q.method+' '+q.socket.remoteAddress+'\\\\n')).listen(8080)"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {port: 8080}}
`;

const sleeper = (name: string, node: string, labels: Record<string, string>) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: demo
  labels: ${JSON.stringify({ app: name, ...labels })}
spec:
  serviceAccountName: ${name}
  nodeName: ${node}
  containers:
  - name: main
    command: ["sleep", "infinity"]
`;

const appsYaml = (echoLabels: Record<string, string> = {}) =>
  [
    service("echo", { app: "echo" }, echoLabels),
    service("echo-v1", { app: "echo", version: "v1" }),
    service("echo-v2", { app: "echo", version: "v2" }),
    echo("v1"),
    echo("v2"),
    sleeper("client", "node-1", {}),
    sleeper("plain", "node-1", { "istio.io/dataplane-mode": "none" }),
  ].join("");

const WAYPOINT = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
`;

const L4_DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-client
  namespace: demo
spec:
  selector:
    matchLabels: {app: echo}
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/client"]
`;

const L7_GET_ONLY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: echo-get-from-client
  namespace: demo
spec:
  targetRefs:
  - {kind: Service, group: "", name: echo}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/client"]
    to:
    - operation:
        methods: ["GET"]
`;

const ROUTE_90_10 = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: echo-split
  namespace: demo
spec:
  parentRefs:
  - {group: "", kind: Service, name: echo, port: 80}
  rules:
  - backendRefs:
    - {name: echo-v1, port: 80, weight: 90}
    - {name: echo-v2, port: 80, weight: 10}
`;

describe("ambit up: the ambient walk-through on a small folder", { skip: reason }, () => {
  let dir: string;
  let mesh: LocalMesh;
  const write = (file: string, text: string) => writeFileSync(join(dir, file), text);
  const pod = (name: string) => {
    const p = mesh.state().pods.find((x) => x.name === name || x.name.startsWith(`${name}-`));
    assert.ok(p, `pod ${name} runs`);
    return p;
  };
  const curl = (from: string, args: string[]) =>
    inPod(pod(from).netns, ["curl", "-s", "-m", "5", "-w", "\\n%{http_code}", ...args]);
  const captured = (name: string) => pod(name).captured;
  const node = (name: string) => {
    const n = mesh.state().nodes.find((x) => x.name === name);
    assert.ok(n, `node ${name} runs`);
    return n;
  };
  const metrics = async (name: string) => (await fetch(`http://${node(name).metrics}/metrics`)).text();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ambit-e2e-"));
    write("ns.yaml", nsYaml({}));
    write("apps.yaml", appsYaml());
    mesh = await LocalMesh.start({
      folder: dir,
      prefix: PREFIX,
      nodes: 2,
      ...cidrsFor(1),
      debounceMs: 20,
      stateRoot: join(dir, "run"),
      logDir: join(dir, "logs"),
    });
  });

  after(async () => {
    await mesh?.stop();
    assert.deepEqual(await leftovers(PREFIX), [], "nothing with the prefix is left");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the app works before enrollment, and nothing is captured", async () => {
    assert.equal(captured("client"), false);
    const r = await curl("client", ["http://echo-v1/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^v1 GET .*\n+200$/);
  });

  it("labelling the namespace ambient captures running pods (not the dataplane-mode none one) and traffic across nodes is mTLS", async () => {
    const before = pod("client").ip;
    write("ns.yaml", nsYaml({ "istio.io/dataplane-mode": "ambient" }));
    await waitFor("capture", () => captured("client") && captured("echo-v1") && captured("echo-v2"));
    assert.equal(captured("plain"), false, "a pod labelled dataplane-mode none stays out");
    assert.equal(pod("client").ip, before, "the pod was not restarted");
    assert.notEqual(pod("client").node, pod("echo-v1").node);
    const r = await curl("client", ["http://echo-v1/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^v1 GET /);
    const mtls =
      /istio_tcp_connections_opened_total\{[^}]*reporter="(source|destination)"[^}]*connection_security_policy="mutual_tls"/;
    await waitFor("source metrics", async () =>
      /reporter="source"/.test(((await metrics("node-1")).match(new RegExp(mtls, "g")) ?? []).join()),
    );
    await waitFor("destination metrics", async () =>
      /reporter="destination"/.test(((await metrics("node-2")).match(new RegExp(mtls, "g")) ?? []).join()),
    );
    // The uncaptured pod still reaches a captured one (plaintext inbound, no mTLS possible from it).
    const plain = await curl("plain", ["http://echo-v1/"]);
    assert.equal(plain.code, 0, plain.stderr);
  });

  it("an L4 DENY policy resets the caller (curl exit 56), and removing it restores traffic without restarts", async () => {
    write("deny.yaml", L4_DENY);
    await waitFor("deny in force", async () => (await curl("client", ["http://echo-v1/"])).code === 56);
    unlinkSync(join(dir, "deny.yaml"));
    await waitFor("deny lifted", async () => (await curl("client", ["http://echo-v1/"])).code === 0);
  });

  it("a waypoint is deployed (pod, Service, Programmed status) and the namespace uses it", async () => {
    write("waypoint.yaml", WAYPOINT);
    await waitFor("waypoint pod", () => mesh.state().waypoints.length === 1);
    const wp = mesh.state().waypoints[0]!;
    assert.equal(wp.name, "waypoint");
    await waitFor("waypoint ready", async () => (await fetch(`http://${wp.readiness}/healthz/ready`)).status === 200);
    const gw = mesh.controlPlane.model.waypoints().find((w) => w.name === "waypoint");
    assert.equal(gw?.programmed, true);
    assert.equal(gw?.address, "waypoint.demo.svc.cluster.local");
    write("ns.yaml", nsYaml({ "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint" }));
    write("l7.yaml", L7_GET_ONLY);
    await waitFor("POST refused by the waypoint", async () => {
      const r = await curl("client", ["-X", "POST", "http://echo/"]);
      return r.stdout === "RBAC: access denied\n403";
    });
    const get = await curl("client", ["http://echo/"]);
    assert.match(get.stdout, /GET .*\n+200$/);
    const text = await (await fetch(`http://${wp.metrics}/metrics`)).text();
    assert.match(text, /istio_requests_total\{reporter="waypoint"[^}]*response_code="403"/);
  });

  it("an HTTPRoute shifts 90/10 between two versions (±5% over 300 requests)", async () => {
    write("route.yaml", ROUTE_90_10);
    const urls = Array.from({ length: 300 }, () => "http://echo/");
    await waitFor(
      "route in force",
      async () => (await curl("client", urls.slice(0, 40))).stdout.includes("v2 "),
      10_000,
    );
    const r = await inPod(pod("client").netns, ["curl", "-s", "-m", "30", ...urls], 40_000);
    const v1 = (r.stdout.match(/^v1 /gm) ?? []).length;
    const v2 = (r.stdout.match(/^v2 /gm) ?? []).length;
    assert.equal(v1 + v2, 300, r.stderr);
    assert.ok(v2 >= 15 && v2 <= 45, `v2 got ${v2}/300`);
  });

  it("a Service labelled use-waypoint: none beats the namespace label (no L7 policy, so POST passes)", async () => {
    // control-plane.md §4. Waits on each hop of the change (model, node-1 ztunnel, traffic) with its own bound,
    // so a slow push shows where it stalled instead of as one opaque timeout.
    write("apps.yaml", appsYaml({ "istio.io/use-waypoint": "none" }));
    await waitFor("the model drops the Service's waypoint", () => {
      const b = mesh.controlPlane.model.service("Service", "demo", "echo")?.binding;
      return b?.waypoint === null && b.requested === "none";
    });
    await waitFor("node-1's ztunnel holds the Service without a waypoint", async () => {
      const dump = (await (await fetch(`http://${node("node-1").ztunnelAdmin}/config_dump`)).json()) as {
        services: Array<{ name: string; namespace: string; waypoint?: unknown }>;
      };
      const svc = dump.services.find((s) => s.name === "echo" && s.namespace === "demo");
      return svc !== undefined && svc.waypoint === undefined;
    });
    let last = "";
    await waitFor(
      "POST to echo bypasses the waypoint",
      async () => {
        const r = await curl("client", ["-X", "POST", "http://echo/"]);
        last = `exit ${r.code}: ${r.stdout}`;
        return /POST .*\n+200$/.test(r.stdout);
      },
      20_000,
    ).catch((e: Error) => assert.fail(`${e.message}; last answer ${last}`));
  });

  it("removing the ambient label releases the pods while they keep running", async () => {
    write("ns.yaml", nsYaml({}));
    await waitFor("released", () => !captured("client") && !captured("echo-v1"));
    const r = await curl("client", ["http://echo-v1/"]);
    assert.equal(r.code, 0, r.stderr);
  });
});
