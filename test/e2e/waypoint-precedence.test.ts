// use-waypoint precedence with real traffic (control-plane.md §4, §5): the namespace asks for waypoint A, one
// Service's own label asks for B (a service waypoint), one pod's own label asks for C (`waypoint-for: workload`).
// Each waypoint carries an L7 DENY for its own path only, so a 403 on /via-<x> names the waypoint that handled
// the request, and 200 on the other two proves the others did not.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LocalMesh } from "../../src/local/local-mesh.js";
import { type FolderMesh, startFolderMesh, waypointsReady } from "./folder-mesh.js";
import { inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("p");
const WAYPOINTS = ["wp-a", "wp-b", "wp-c"] as const;

const waypoint = (name: string, labels: Record<string, string>) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: prec
  labels: ${JSON.stringify(labels)}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-via-${name}
  namespace: prec
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: ${name}}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/via-${name}"]
`;

const server = (app: string, labels: Record<string, string>, serviceLabels: Record<string, string>) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${app}
  namespace: prec
  labels: ${JSON.stringify({ app, ...labels })}
spec:
  nodeName: node-2
  containers:
  - name: main
    command: ["node", "-e", "require('http').createServer((q,s)=>s.end('${app} '+q.url+'\\\\n')).listen(8080)"]
    readinessProbe: {httpGet: {port: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: ${app}
  namespace: prec
  labels: ${JSON.stringify(serviceLabels)}
spec:
  selector: {app: ${app}}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`;

const FOLDER = [
  `apiVersion: v1
kind: Namespace
metadata:
  name: prec
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: wp-a}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: prec
  labels: {app: client}
spec:
  serviceAccountName: client
  nodeName: node-1
  containers:
  - name: main
    command: ["sleep", "infinity"]
`,
  waypoint("wp-a", {}),
  waypoint("wp-b", { "istio.io/waypoint-for": "service" }),
  waypoint("wp-c", { "istio.io/waypoint-for": "workload" }),
  server("plain", {}, {}),
  server("svc-b", {}, { "istio.io/use-waypoint": "wp-b" }),
  server("pod-c", { "istio.io/use-waypoint": "wp-c" }, {}),
].join("");

describe("ambit up: use-waypoint on a Service or a pod beats the namespace label", { skip: reason }, () => {
  let fm: FolderMesh;
  let mesh: LocalMesh;
  const running = (name: string) => fm.pod(name);
  /** The waypoint that handled requests to `base`: the one whose path is refused, with 200 on the others. */
  const handledBy = async (base: string): Promise<string> => {
    const urls = WAYPOINTS.map((w) => `${base}/via-${w}`);
    // One `-o` per URL: curl applies each to the next URL only.
    const r = await inPod(running("client").netns, [
      "curl",
      "-s",
      "-m",
      "5",
      "-w",
      "%{http_code}\\n",
      ...urls.flatMap((u) => ["-o", "/dev/null", u]),
    ]);
    const codes = r.stdout.trim().split("\n");
    const refused = WAYPOINTS.filter((_w, i) => codes[i] === "403");
    const passed = codes.filter((c) => c === "200").length;
    if (refused.length === 1 && passed === WAYPOINTS.length - 1) return refused[0] as string;
    if (refused.length === 0 && passed === WAYPOINTS.length) return "none";
    return `unclear (${codes.join(",")}; exit ${r.code})`;
  };

  /** Polls until `want` handles requests to `base` (config reaches the ztunnels asynchronously). */
  const expectHandledBy = async (base: string, want: string) => {
    let last = "";
    await waitFor(`${want} handles ${base}`, async () => {
      last = await handledBy(base);
      return last === want;
    }).catch((e: Error) => assert.fail(`${e.message}; last: ${last}`));
  };

  before(async () => {
    fm = await startFolderMesh(FOLDER, PREFIX, 4);
    mesh = fm.mesh;
    await waypointsReady(mesh, 3);
    await waitFor("capture", () => ["client", "plain", "svc-b", "pod-c"].every((n) => running(n).captured));
  });

  after(async () => {
    await fm?.stop();
  });

  it("a Service without its own label uses the namespace's waypoint", async () => {
    await expectHandledBy("http://plain", "wp-a");
  });

  it("a Service labelled use-waypoint: wp-b beats the namespace's wp-a", async () => {
    await expectHandledBy("http://svc-b", "wp-b");
  });

  it("a pod labelled use-waypoint: wp-c (waypoint-for workload) gets its pod-addressed traffic through wp-c", async () => {
    await expectHandledBy(`http://${running("pod-c").ip}:8080`, "wp-c");
  });

  it("the same pod addressed through its Service uses the Service's waypoint (the namespace's wp-a)", async () => {
    assert.equal(await handledBy("http://pod-c"), "wp-a");
  });

  it("a pod with no label of its own, addressed by IP, skips the namespace's service-only waypoint", async () => {
    assert.equal(await handledBy(`http://${running("svc-b").ip}:8080`), "none");
  });
});
