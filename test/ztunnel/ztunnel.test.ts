// Two ztunnels on loopback with real mTLS HBONE between them: node A runs the client pod, node B the servers.
// Spec: data-plane.md §1 (HBONE), §3.1 (outbound), §3.2 (inbound), §3.3 (plaintext), §5 (L4 authz), §6 (telemetry).

import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { HbonePool } from "../../src/dataplane/hbone/pool.js";
import { HboneServer, type TunnelInfo } from "../../src/dataplane/hbone/server.js";
import { serviceView } from "../../src/dataplane/state/types.js";
import type { AmbitError } from "../../src/errors.js";
import { MeshCa } from "../../src/identity/ca.js";
import { createCsr } from "../../src/identity/csr.js";
import { staticStrictPolicy } from "../../src/policy/peer.js";
import type { L4Policy } from "../../src/policy/ztunnel-policy.js";
import { exchange, get, id, Mesh, open, scrape, type TestNode, type TestPod, total, until } from "./harness.js";

const BACKEND = "default/backend.default.svc.cluster.local";
const WAYPOINTED = "default/waypointed.default.svc.cluster.local";
const CLIENT_ID = id("default", "client");
const SERVER_ID = id("default", "server");

describe("ztunnel: two nodes on loopback", () => {
  let mesh: Mesh;
  let a: TestNode;
  let b: TestNode;
  let client: TestPod;
  const S1 = "127.77.2.10";
  const S2 = "127.77.2.11";

  before(async () => {
    mesh = await Mesh.create();
    a = await mesh.node("node-a");
    b = await mesh.node("node-b");
    client = await mesh.pod(a, { uid: "client", ip: "127.77.1.10", serviceAccount: "client" });
    const member = { [BACKEND]: [{ servicePort: 80, targetPort: 8080 }] };
    await mesh.pod(b, {
      uid: "server-1",
      ip: S1,
      serviceAccount: "server",
      services: { ...member, [WAYPOINTED]: [{ servicePort: 80, targetPort: 8080 }] },
    });
    await mesh.pod(b, { uid: "server-2", ip: S2, serviceAccount: "server", services: member });
    mesh.service(
      serviceView({
        name: "backend",
        namespace: "default",
        addresses: [{ network: "", address: "10.96.0.1" }],
        ports: [{ servicePort: 80, targetPort: 8080 }],
      }),
    );
    mesh.service(
      serviceView({
        name: "empty",
        namespace: "default",
        addresses: [{ network: "", address: "10.96.0.9" }],
        ports: [{ servicePort: 80, targetPort: 8080 }],
      }),
    );
    for (const n of mesh.nodes) n.state.markSynced();
    await mesh.app(S1, 8080, "s1");
    await mesh.app(S2, 8080, "s2");
    await mesh.echo(S1, 9090);
  });

  after(async () => {
    await mesh.close();
  });

  const setPolicies = (policies: L4Policy[], remove: string[] = []) =>
    mesh.update({ policies: { upsert: policies, remove } });

  // §1, §3.1 step 8, §6: pod IP → HBONE to <ip>:15008 with :authority <ip>:<port>; both reporters count mTLS bytes.
  it("carries a pod-to-pod connection over mTLS HBONE and both ztunnels report it", async () => {
    const before = { a: await scrape(a), b: await scrape(b) };
    const r = await exchange(client.outbound, { address: S1, port: 8080 }, "hello ztunnel");
    assert.equal(r.error, undefined);
    assert.equal(r.reply, "s1:13");
    const match = { connection_security_policy: "mutual_tls", destination_workload: "server-1" };
    await until(async () => {
      const sa = await scrape(a);
      const sb = await scrape(b);
      return (
        total(sa, "istio_tcp_connections_closed_total", { reporter: "source", ...match }) >
          total(before.a, "istio_tcp_connections_closed_total", { reporter: "source", ...match }) &&
        total(sb, "istio_tcp_connections_closed_total", { reporter: "destination", ...match }) >
          total(before.b, "istio_tcp_connections_closed_total", { reporter: "destination", ...match })
      );
    });
    const sa = await scrape(a);
    const sb = await scrape(b);
    const delta = (s: typeof sa, b0: typeof sa, name: string, m: Record<string, string>) =>
      total(s, name, m) - total(b0, name, m);
    for (const [samples, base, reporter] of [
      [sa, before.a, "source"],
      [sb, before.b, "destination"],
    ] as const) {
      const m = { reporter, ...match };
      assert.equal(delta(samples, base, "istio_tcp_connections_opened_total", m), 1, `${reporter} opened`);
      assert.equal(delta(samples, base, "istio_tcp_connections_closed_total", m), 1, `${reporter} closed`);
      // Request bytes are "received", response bytes "sent", for both reporters (Istio's convention).
      assert.equal(delta(samples, base, "istio_tcp_received_bytes_total", m), 13, `${reporter} received`);
      assert.equal(delta(samples, base, "istio_tcp_sent_bytes_total", m), 5, `${reporter} sent`);
    }
    const sample = sb.find(
      (s) => s.name === "istio_tcp_connections_closed_total" && s.labels.destination_workload === "server-1",
    )!;
    assert.equal(sample.labels.source_workload, "client");
    assert.equal(sample.labels.source_principal, CLIENT_ID);
    assert.equal(sample.labels.destination_principal, SERVER_ID);
    assert.equal(sample.labels.request_protocol, "tcp");
    assert.equal(sample.labels.response_flags, "-");
    assert.equal(sample.labels.source_workload_namespace, "default");
    const outLog = a.logs.find((l) => l.includes(`dst.hbone_addr=${S1}:8080`))!;
    assert.match(outLog, /^info access connection complete src\.addr=127\.0\.0\.1:\d+ src\.workload="client"/);
    assert.match(outLog, new RegExp(`dst\\.addr=${S1}:${mesh.hbonePort} `));
    assert.match(outLog, /direction="outbound" bytes_sent=13 bytes_recv=5 duration="\d+ms"$/);
    assert.match(outLog, new RegExp(`src.identity="${CLIENT_ID}"`));
  });

  // §3.1 step 4: a VIP is load-balanced by ztunnel (round robin here) and translated to the endpoint's target port.
  it("round-robins a service VIP over its two endpoints", async () => {
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await exchange(client.outbound, { address: "10.96.0.1", port: 80 }, "x");
      assert.equal(r.error, undefined);
      replies.push(r.reply);
    }
    assert.deepEqual(new Set(replies), new Set(["s1:1", "s2:1"]));
    assert.notEqual(replies[0], replies[1]);
    assert.equal(replies[0], replies[2]);
    assert.equal(replies[1], replies[3]);
    const sb = await scrape(b);
    assert.ok(
      total(sb, "istio_tcp_connections_opened_total", {
        reporter: "destination",
        destination_service: "backend.default.svc.cluster.local",
        destination_service_name: "backend",
      }) >= 4,
    );
  });

  // §3.1 step 5: a Service VIP with no healthy endpoint is NoHealthyUpstream: the connection is reset.
  it("fails closed on a VIP without endpoints", async () => {
    const r = await exchange(client.outbound, { address: "10.96.0.9", port: 80 }, "x");
    assert.equal(r.error?.code, "ECONNRESET");
    assert.equal(r.reply, "");
    assert.ok(a.logs.some((l) => l.includes("no healthy upstream for empty.default.svc.cluster.local")));
  });

  // §3.1 step 5: anything unknown is passed through as plain TCP to where the app was going.
  it("passes an unknown destination through as plain TCP", async () => {
    await mesh.app("127.77.9.9", 7070, "outside");
    const r = await exchange(client.outbound, { address: "127.77.9.9", port: 7070 }, "abc");
    assert.equal(r.error, undefined);
    assert.equal(r.reply, "outside:3");
    await until(async () =>
      (await scrape(a)).some(
        (s) =>
          s.name === "istio_tcp_connections_closed_total" &&
          s.labels.connection_security_policy === "unknown" &&
          s.labels.destination_workload === "unknown",
      ),
    );
  });

  // §3.1 step 1: loop protection for ztunnel's own ports.
  it("refuses connections to ztunnel's own ports on loopback", async () => {
    const r = await exchange(client.outbound, { address: "127.0.0.1", port: 15008 }, "x");
    assert.equal(r.error?.code, "ECONNRESET");
  });

  // §5 evaluation order step 2: a DENY naming the client's principal refuses at the destination (401 → reset).
  it("an L4 DENY by principal resets the client", async () => {
    const deny: L4Policy = {
      name: "deny-client",
      namespace: "default",
      scope: "NAMESPACE",
      action: "DENY",
      groups: [{ rules: [{ matches: [{ principals: [{ exact: "cluster.local/ns/default/sa/client" }] }] }] }],
      dryRun: false,
    };
    setPolicies([deny]);
    try {
      const r = await exchange(client.outbound, { address: S1, port: 8080 }, "x");
      assert.equal(r.error?.code, "ECONNRESET");
      assert.equal(r.reply, "");
      await until(() =>
        b.logs.some((l) => l.includes('error="policy rejection: explicitly denied by: default/deny-client"')),
      );
      const sb = await scrape(b);
      assert.ok(
        total(sb, "istio_tcp_connections_closed_total", { reporter: "destination", response_flags: "DENY" }) >= 1,
      );
    } finally {
      setPolicies([], ["default/deny-client"]);
    }
  });

  // §5 evaluation order steps 5–6: with an ALLOW present, a connection no ALLOW matches is refused.
  it("an ALLOW for another principal refuses the client too", async () => {
    const allow: L4Policy = {
      name: "allow-other",
      namespace: "default",
      scope: "NAMESPACE",
      action: "ALLOW",
      groups: [{ rules: [{ matches: [{ principals: [{ exact: "cluster.local/ns/default/sa/other" }] }] }] }],
      dryRun: false,
    };
    setPolicies([allow]);
    try {
      const r = await exchange(client.outbound, { address: S1, port: 8080 }, "x");
      assert.equal(r.error?.code, "ECONNRESET");
      await until(() =>
        b.logs.some((l) => l.includes('error="policy rejection: allow policies exist, but none allowed"')),
      );
    } finally {
      setPolicies([], ["default/allow-other"]);
    }
    const ok = await exchange(client.outbound, { address: S1, port: 8080 }, "x");
    assert.equal(ok.reply, "s1:1", "removing the policy allows again");
  });

  // §3.3 + policy.md §3: STRICT is a DENY of "no principal", which refuses plaintext on 15006; PERMISSIVE accepts.
  it("STRICT PeerAuthentication refuses plaintext on 15006; PERMISSIVE accepts it", async () => {
    const server1 = b.pods.find((p) => p.uid === "server-1")!;
    const permissive = await exchange(server1.plaintext, { address: S1, port: 8080 }, "plain");
    assert.equal(permissive.error, undefined);
    assert.equal(permissive.reply, "s1:5");
    await until(async () =>
      (await scrape(b)).some(
        (s) =>
          s.name === "istio_tcp_connections_closed_total" &&
          s.labels.reporter === "destination" &&
          s.labels.connection_security_policy === "unknown" &&
          s.labels.source_principal === "unknown",
      ),
    );
    const strict = staticStrictPolicy("istio-system");
    const w = b.state.workload("server-1")!;
    mesh.update({
      policies: { upsert: [strict] },
      workloads: { upsert: [{ ...w, authorizationPolicies: ["istio-system/istio_converted_static_strict"] }] },
    });
    try {
      assert.equal(b.state.peerAuthentication(b.state.workload("server-1")!), "STRICT");
      const refused = await exchange(server1.plaintext, { address: S1, port: 8080 }, "plain");
      assert.equal(refused.error?.code, "ECONNRESET");
      const viaMesh = await exchange(client.outbound, { address: S1, port: 8080 }, "mtls");
      assert.equal(viaMesh.reply, "s1:4", "HBONE carries a principal, so STRICT lets it through");
    } finally {
      mesh.update({ policies: { remove: ["istio-system/istio_converted_static_strict"] }, workloads: { upsert: [w] } });
    }
  });

  // §5 "Live enforcement": open connections are re-authorized on a policy change and closed when now denied.
  it("a policy update closes an open connection that is now denied", async () => {
    const s = await open(client.outbound, { address: S1, port: 9090 });
    s.write("ping");
    const echoed = await new Promise<string>((r) => s.once("data", (d: Buffer) => r(d.toString())));
    assert.equal(echoed, "ping");
    await until(() => b.ztunnel.connections().some((c) => c.direction === "inbound" && c.local === `${S1}:9090`));
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    s.on("error", () => {});
    setPolicies([
      {
        name: "deny-9090",
        namespace: "default",
        scope: "NAMESPACE",
        action: "DENY",
        groups: [{ rules: [{ matches: [{ destinationPorts: [9090] }] }] }],
        dryRun: false,
      },
    ]);
    try {
      await closed;
      await until(() => !b.ztunnel.connections().some((c) => c.local === `${S1}:9090`));
      assert.ok(b.logs.some((l) => l.includes('error="connection closed due to policy change"')));
    } finally {
      setPolicies([], ["default/deny-9090"]);
    }
  });

  // §3.1 step 3: a service with a waypoint goes to the waypoint with the VIP kept as :authority; never bypassed.
  it("sends a waypointed service to its waypoint and fails closed when the waypoint is down", async () => {
    const WP_IP = "127.77.3.10";
    const wpId = id("default", "waypoint");
    mesh.update({
      workloads: {
        upsert: [
          {
            ...b.state.workload("server-2")!,
            uid: "waypoint",
            name: "waypoint",
            workloadName: "waypoint",
            serviceAccount: "waypoint",
            addresses: [WP_IP],
            node: "node-c",
            services: { "default/waypoint.default.svc.cluster.local": [{ servicePort: 15008, targetPort: 15008 }] },
          },
        ],
      },
      services: {
        upsert: [
          serviceView({ name: "waypoint", namespace: "default", addresses: [{ network: "", address: "10.96.0.3" }] }),
          serviceView({
            name: "waypointed",
            namespace: "default",
            addresses: [{ network: "", address: "10.96.0.2" }],
            ports: [{ servicePort: 80, targetPort: 8080 }],
            waypoint: {
              hostname: { namespace: "default", hostname: "waypoint.default.svc.cluster.local" },
              hboneMtlsPort: mesh.hbonePort,
            },
          }),
        ],
      },
    });
    const { keyPem, csrPem } = await createCsr(wpId);
    const chain = await mesh.ca.sign(csrPem, { node: "node-c", identity: wpId });
    const seen: TunnelInfo[] = [];
    const waypoint = new HboneServer({
      host: WP_IP,
      port: mesh.hbonePort,
      certs: () => ({ key: keyPem, cert: chain[0]!, ca: mesh.ca.rootPem }),
      trustDomain: "cluster.local",
      onTunnel: (stream, info) => {
        seen.push(info);
        stream.resume();
        stream.on("end", () => stream.end("via-waypoint"));
      },
    });
    await waypoint.start();
    try {
      const r = await exchange(client.outbound, { address: "10.96.0.2", port: 80 }, "x");
      assert.equal(r.reply, "via-waypoint");
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers[":authority"], "10.96.0.2:80");
      assert.equal(seen[0]!.peer, CLIENT_ID);
      assert.match(String(seen[0]!.headers.forwarded), /;host=waypointed\.default\.svc\.cluster\.local$/);
    } finally {
      await waypoint.stop();
    }
    const down = await exchange(client.outbound, { address: "10.96.0.2", port: 80 }, "x");
    assert.equal(down.error?.code, "ECONNRESET", "no fallback to the endpoints behind the waypoint");
    assert.equal(down.reply, "");
  });

  // §1.4 "Inbound destination validation" and §1.2: the :authority must be the IP the tunnel arrived on, and the
  // client must hold a certificate from the mesh's roots.
  it("refuses an authority for another pod (IPMismatch, 400) and clients from another CA", async () => {
    const issue = async (ca: MeshCa, identity: string) => {
      const { keyPem, csrPem } = await createCsr(identity);
      const chain = await ca.sign(csrPem, { node: "node-x", identity });
      return { key: keyPem, cert: chain[0]!, ca: mesh.ca.rootPem };
    };
    const good = new HbonePool({ certs: await issue(mesh.ca, CLIENT_ID).then((c) => () => c) });
    const foreignCa = await MeshCa.generate({ trustDomain: "cluster.local", authorizer: () => true });
    const foreign = new HbonePool({ certs: await issue(foreignCa, CLIENT_ID).then((c) => () => c) });
    try {
      await assert.rejects(
        good.connect({ address: `${S1}:${mesh.hbonePort}`, target: `${S2}:8080`, expectedIdentities: [SERVER_ID] }),
        (e: AmbitError) => e.code === "AMBIT_HBONE_BAD_REQUEST",
      );
      await assert.rejects(
        foreign.connect({ address: `${S1}:${mesh.hbonePort}`, target: `${S1}:8080`, expectedIdentities: [SERVER_ID] }),
      );
      await until(() =>
        b.logs.some((l) => l.startsWith("warn access connection failed") && l.includes("AMBIT_HBONE_PEER_UNTRUSTED")),
      );
    } finally {
      await good.close();
      await foreign.close();
    }
  });

  // Clean-up: an app that gives up while its tunnel is being set up leaves no tracked connection or stream behind.
  it("a client that leaves before its tunnel is up leaves nothing behind", async () => {
    const port = await client.outbound.portFor({ address: S2, port: 8080 });
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const s = connect({ host: "127.0.0.1", port });
        s.on("error", () => {});
        await once(s, "connect");
        s.resetAndDestroy();
      }),
    );
    await until(() => a.ztunnel.connections().length === 0 && b.ztunnel.connections().length === 0);
    const ok = await exchange(client.outbound, { address: S2, port: 8080 }, "after");
    assert.equal(ok.reply, "s2:5");
  });

  // §2.1 ports, user-needs.md §2.2: readiness and config_dump for `ztunnel-config`.
  it("serves readiness and a config dump with workloads, services, certificates and connections", async () => {
    assert.equal((await get(a.ztunnel.ports.readiness, "/healthz/ready")).status, 200);
    const s = await open(client.outbound, { address: S1, port: 9090 });
    s.write("x");
    await new Promise((r) => s.once("data", r));
    const dump = JSON.parse((await get(a.ztunnel.ports.admin, "/config_dump")).body);
    s.end();
    await new Promise((r) => s.once("close", r));
    assert.ok(
      dump.workloads.some((w: { uid: string; protocol: string }) => w.uid === "client" && w.protocol === "HBONE"),
    );
    const backend = dump.services.find((x: { name: string }) => x.name === "backend");
    assert.deepEqual(Object.keys(backend.endpoints).sort(), ["server-1", "server-2"]);
    assert.deepEqual(backend.vips, ["/10.96.0.1"]);
    const cert = dump.certificates.find((c: { identity: string }) => c.identity === CLIENT_ID);
    assert.equal(cert.state, "Available");
    assert.equal(cert.certChain.length, 2);
    assert.ok(!JSON.stringify(dump).includes("PRIVATE KEY"), "never dumps keys");
    const out = dump.workloadState.client.connections.outbound;
    assert.deepEqual(
      out.map((c: { originalDst: string; protocol: string }) => [c.originalDst, c.protocol]),
      [[`${S1}:9090`, "HBONE"]],
    );
  });
});
