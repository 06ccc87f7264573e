// `ambit ztunnel-config` against running ztunnels: two real Ztunnels (real CA, mTLS HBONE on 127.77.x.y) listed in
// a state file under $AMBIT_RUN_DIR, as `ambit up` writes it. Spec: user-needs.md §2.2; data-plane.md §2.1 (admin).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import type { RunningMesh } from "../../src/cli/running-mesh.js";
import { serviceView, workloadView } from "../../src/dataplane/state/types.js";
import { freePort, id, Mesh, open, type TestNode, until } from "../ztunnel/harness.js";
import { assertGolden } from "./golden.js";

const CLIENT = "127.77.1.10";
const S1 = "127.77.2.10";
const S2 = "127.77.2.11";
const WP = "127.77.2.20";
const BACKEND = "default/backend.default.svc.cluster.local";
const WAYPOINT_HOST = { namespace: "default", hostname: "waypoint.default.svc.cluster.local" };

describe("ambit ztunnel-config over a running mesh", () => {
  let mesh: Mesh;
  let a: TestNode;
  let b: TestNode;
  let runDir: string;
  let conn: Socket;

  const writeState = (prefix: string, state: Partial<RunningMesh>) => {
    mkdirSync(join(runDir, prefix), { recursive: true });
    writeFileSync(join(runDir, prefix, "state.json"), JSON.stringify(state));
  };
  const zc = async (...args: string[]) => {
    const r = await runCli(["zc", ...args]);
    assert.equal(r.stderr, "");
    assert.equal(r.exitCode, 0);
    return r.stdout;
  };
  const rows = (out: string) =>
    out
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/));

  before(async () => {
    runDir = mkdtempSync(join(tmpdir(), "ambit-zc-"));
    process.env.AMBIT_RUN_DIR = runDir;
    mesh = await Mesh.create();
    a = await mesh.node("node-a");
    b = await mesh.node("node-b");
    const member = { [BACKEND]: [{ servicePort: 80, targetPort: 9090 }] };
    await mesh.pod(a, { uid: "default/client-7c9d", name: "client-7c9d", ip: CLIENT, serviceAccount: "client" });
    await mesh.pod(b, {
      uid: "default/server-1",
      name: "server-1",
      ip: S1,
      serviceAccount: "server",
      services: member,
    });
    await mesh.pod(b, {
      uid: "default/server-2",
      name: "server-2",
      ip: S2,
      serviceAccount: "server",
      services: member,
      status: "UNHEALTHY",
      waypoint: { hostname: WAYPOINT_HOST, hboneMtlsPort: 15008 },
    });
    mesh.update({
      workloads: {
        upsert: [
          workloadView({
            uid: "default/waypoint-5f7",
            name: "waypoint-5f7",
            namespace: "default",
            node: "node-b",
            addresses: [WP],
            tunnelProtocol: "NONE",
            serviceAccount: "waypoint",
            services: { "default/waypoint.default.svc.cluster.local": [{ servicePort: 15008, targetPort: 15008 }] },
          }),
        ],
      },
    });
    mesh.service(
      serviceView({
        name: "backend",
        namespace: "default",
        addresses: [{ network: "", address: "10.96.0.10" }],
        ports: [{ servicePort: 80, targetPort: 9090 }],
        waypoint: { hostname: WAYPOINT_HOST, hboneMtlsPort: 15008 },
      }),
    );
    mesh.service(
      serviceView({
        name: "waypoint",
        namespace: "default",
        addresses: [{ network: "", address: "10.96.0.20" }],
        ports: [{ servicePort: 15008, targetPort: 15008 }],
      }),
    );
    mesh.update({
      policies: {
        upsert: [
          {
            name: "allow-all",
            namespace: "default",
            scope: "NAMESPACE",
            action: "ALLOW",
            groups: [{ rules: [] }],
            dryRun: false,
          },
          {
            name: "deny-9999",
            namespace: "istio-system",
            scope: "GLOBAL",
            action: "DENY",
            groups: [{ rules: [{ matches: [{ destinationPorts: [9999] }] }] }],
            dryRun: false,
          },
        ],
      },
    });
    for (const n of mesh.nodes) n.state.markSynced();
    await mesh.echo(S1, 9090);
    // One long-lived connection, so both ztunnels have a connection and a certificate to show.
    conn = await open(mesh.nodes[0]!.pods[0]!.outbound, { address: S1, port: 9090 });
    conn.write("x");
    await new Promise((r) => conn.once("data", r));
    await until(() => b.ztunnel.connections().length === 1);
    const node = (n: TestNode) => ({
      name: n.name,
      ztunnelAdmin: `127.0.0.1:${n.ztunnel.ports.admin}`,
      metrics: `127.0.0.1:${n.ztunnel.ports.metrics}`,
      readiness: `127.0.0.1:${n.ztunnel.ports.readiness}`,
    });
    const pod = (name: string, ip: string, n: string) => ({
      namespace: "default",
      name,
      netns: `ambit-${name}`,
      ip,
      node: n,
      captured: true,
      ready: true,
    });
    writeState("ambit", {
      prefix: "ambit",
      pid: process.pid,
      startedAt: new Date().toISOString(),
      folder: "/tmp/manifests",
      controlPlane: { xds: "127.0.0.1:1", ca: "127.0.0.1:2" },
      nodes: [node(a), node(b)],
      waypoints: [],
      pods: [pod("client-7c9d", CLIENT, "node-a"), pod("server-1", S1, "node-b"), pod("server-2", S2, "node-b")],
    });
  });

  after(async () => {
    conn.destroy();
    await mesh.close();
    rmSync(runDir, { recursive: true, force: true });
  });

  // §2.2: workloads, services and policies are the same on every ztunnel; with no node they are merged.
  it("workloads of every node, merged, in istioctl's layout", async () => {
    assertGolden("zc-live-workloads.txt", await zc("workloads"));
    assert.equal(await zc("workloads", "--node", "node-b"), await zc("workloads"));
  });

  it("workloads -o json: Istio's field names", async () => {
    assertGolden("zc-live-workloads.json", await zc("w", "-o", "json", "--address", S2));
  });

  // §2.2 service ENDPOINTS healthy/total: server-2 is unhealthy.
  it("services with waypoint and healthy/total endpoints", async () => {
    assertGolden("zc-live-services.txt", await zc("services"));
  });

  it("policies: Allow/Deny, Namespace/Global", async () => {
    assertGolden("zc-live-policies.txt", await zc("policies"));
  });

  // §2.2 certificate table: each node holds the certificates of its own pods' identities.
  it("certificates of every node, or of one node (--node, or a pod's node)", async () => {
    const all = rows(await zc("certificates"));
    const leafOf = (n: TestNode, identity: string) => {
      const c = n.certs.peek(identity);
      assert.ok(c, `${n.name} holds ${identity}`);
      const x = new X509Certificate(c.certChainPem);
      return BigInt(`0x${x.serialNumber}`).toString(16);
    };
    const expected = [
      [id("default", "client"), "Leaf", "Available", "true", leafOf(a, id("default", "client"))],
      [id("default", "client"), "Root", "Available", "true"],
      [id("default", "server"), "Leaf", "Available", "true", leafOf(b, id("default", "server"))],
      [id("default", "server"), "Root", "Available", "true"],
    ];
    assert.deepEqual(
      all.map((r, i) => r.slice(0, expected[i]?.length)),
      expected,
    );
    for (const r of all) assert.match(r[5] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const onA = rows(await zc("certs", "--node", "node-a"));
    assert.deepEqual(
      onA.map((r) => r[0]),
      [id("default", "client"), id("default", "client")],
    );
    assert.deepEqual(rows(await zc("certs", "server-1")), rows(await zc("certs", "--node", "node-b")));
    assert.deepEqual(rows(await zc("certs", "server-1.default")), rows(await zc("certs", "node-b")));
  });

  // §2.2 connections: the client's outbound and the server's inbound, names for IPs the mesh knows.
  it("connections of every node: outbound on the client's node, inbound on the server's", async () => {
    const out = rows(await zc("connections"));
    const outbound = out.find((r) => r[1] === "Outbound");
    const inbound = out.find((r) => r[1] === "Inbound");
    assert.equal(outbound?.[0], "client-7c9d.default");
    assert.equal(outbound?.[4], "server-1.default:9090");
    assert.equal(outbound?.[5], "HBONE");
    assert.equal(inbound?.[0], "server-1.default");
    assert.equal(inbound?.[2], "server-1.default:9090");
    assert.equal(inbound?.[5], "HBONE");
    const raw = rows(await zc("cons", "--raw", "--direction", "outbound"));
    assert.equal(raw.length, 1);
    assert.equal(raw[0]?.[4], `${S1}:9090`);
    assert.deepEqual(rows(await zc("cons", "--node", "node-a", "--direction", "inbound")), []);
  });

  it("all: five tables from every node", async () => {
    const out = await zc("all", "--with-headers");
    const headers = out.split("\n").filter((l) => l.startsWith("------"));
    assert.deepEqual(headers, [
      "------ WORKLOAD INFO ------",
      "------ SERVICE INFO ------",
      "------ POLICY INFO ------",
      "------ SECRET INFO ------",
      "------ CONNECTIONS INFO ------",
    ]);
    const json = JSON.parse(await zc("all", "-o", "json")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ["node-a", "node-b"]);
  });

  // The state file decides which mesh: --prefix selects another `ambit up`.
  it("--prefix reads another mesh's state file", async () => {
    const r = await runCli(["zc", "w", "--prefix", "other"]);
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.stderr,
      `Error: no running mesh (run ambit up DIR): ${join(runDir, "other", "state.json")} does not exist\n`,
    );
  });

  it("a state file whose ambit up process has exited is no running mesh", async () => {
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeState("stale", { prefix: "stale", pid: gone, nodes: [] });
    const r = await runCli(["zc", "w", "--prefix", "stale"]);
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stderr,
      new RegExp(`^Error: no running mesh \\(run ambit up DIR\\): .* is stale: process ${gone} has exited\\n$`),
    );
  });

  it("an unreachable ztunnel is an error naming the node and address", async () => {
    const port = await freePort();
    writeState("down", {
      prefix: "down",
      pid: process.pid,
      nodes: [{ name: "node-x", ztunnelAdmin: `127.0.0.1:${port}`, metrics: "", readiness: "" }],
    });
    const r = await runCli(["zc", "w", "--prefix", "down"]);
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stderr,
      new RegExp(`^Error: ztunnel on node node-x is unreachable at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });

  it("an unknown node or pod is an error listing the nodes", async () => {
    const r = await runCli(["zc", "w", "node-z"]);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stderr, 'Error: no node or pod "node-z" in the running mesh (nodes: node-a, node-b)\n');
    const both = await runCli(["zc", "w", "client-7c9d", "--node", "node-b"]);
    assert.equal(both.exitCode, 64);
  });
});
