// Source-IP preservation across the mesh (data-plane.md §2.2 in-pod mode, §2.5): a pod's outbound HBONE and plain
// TCP leave from the pod (its dialer), so the destination ztunnel's peer is the client pod's IP; it authorizes
// `ipBlocks` against that IP and presents it to the app. On loopback, binding a 127/8 address stands in for
// "a socket inside the pod's netns".
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sourcePreservingConnector } from "../../src/dataplane/ztunnel/app-connect.js";
import type { Destination } from "../../src/dataplane/ztunnel/route.js";
import type { L4Policy } from "../../src/policy/ztunnel-policy.js";
import { dialFrom, exchange, Mesh, type TestNode, type TestPod, until } from "./harness.js";

const CLIENT_IP = "127.77.31.10";
const LEGACY_IP = "127.77.31.11";
const SERVER_IP = "127.77.32.10";
const OUTSIDE_IP = "127.77.39.9";

const dialApp = (dst: Destination, source: string | undefined) =>
  dialFrom(source, { host: dst.address, port: dst.port });

describe("ztunnel: the client pod's IP across HBONE", () => {
  let mesh: Mesh;
  let b: TestNode;
  let client: TestPod;
  let legacy: TestPod;
  const warnings: string[] = [];

  before(async () => {
    mesh = await Mesh.create();
    const a = await mesh.node("node-a");
    b = await mesh.node("node-b", undefined, {
      connectApp: sourcePreservingConnector(dialApp, { spoofable: () => true, warn: (m) => warnings.push(m) }),
    });
    client = await mesh.pod(a, { uid: "client", ip: CLIENT_IP, serviceAccount: "client" }, (t) =>
      dialFrom(CLIENT_IP, t),
    );
    legacy = await mesh.pod(a, { uid: "legacy", ip: LEGACY_IP, serviceAccount: "client" });
    await mesh.pod(b, { uid: "server", ip: SERVER_IP, serviceAccount: "server" });
    for (const n of mesh.nodes) n.state.markSynced();
    await mesh.peerApp(SERVER_IP, 8080, "server");
    await mesh.peerApp(OUTSIDE_IP, 7070, "outside");
  });

  after(async () => {
    await mesh.close();
  });

  const call = (from: TestPod, address = SERVER_IP, port = 8080) => exchange(from.outbound, { address, port }, "hi");
  const allowFrom = (cidr: string): L4Policy => ({
    name: "allow-ip",
    namespace: "default",
    scope: "NAMESPACE",
    action: "ALLOW",
    groups: [{ rules: [{ matches: [{ sourceIps: [{ address: cidr, length: 32 }] }] }] }],
    dryRun: false,
  });

  // §2.5: the inbound leg binds the tunnel's TCP peer, which in-pod dialing makes the client pod's IP.
  it("a pod with a dialer: the app behind the destination ztunnel sees the client pod's IP", async () => {
    const r = await call(client);
    assert.equal(r.error, undefined);
    assert.equal(r.reply, `server:${CLIENT_IP}`);
    assert.deepEqual(warnings, []);
  });

  it("a pod without a dialer is dialed from the ztunnel's own address (the loopback default)", async () => {
    const r = await call(legacy);
    assert.equal(r.reply, "server:127.0.0.1");
  });

  // §5 with policy.md ipBlocks: the destination ztunnel matches source.ip against the HBONE peer.
  it("an ipBlocks ALLOW for the client pod's IP admits it; an ALLOW for another IP resets it", async () => {
    mesh.update({ policies: { upsert: [allowFrom(CLIENT_IP)] } });
    try {
      assert.equal((await call(client)).reply, `server:${CLIENT_IP}`);
      assert.equal((await call(legacy)).error?.code, "ECONNRESET", "127.0.0.1 is not in the block");
      mesh.update({ policies: { upsert: [allowFrom("127.77.31.99")] } });
      await until(() => b.state.authz() !== undefined);
      const denied = await call(client);
      assert.equal(denied.error?.code, "ECONNRESET");
      assert.equal(denied.reply, "");
    } finally {
      mesh.update({ policies: { remove: ["default/allow-ip"] } });
    }
    assert.equal((await call(client)).reply, `server:${CLIENT_IP}`);
  });

  // §3.1 step 5: passthrough is plain TCP, also from the pod.
  it("plain-TCP passthrough leaves from the pod too", async () => {
    const r = await call(client, OUTSIDE_IP, 7070);
    assert.equal(r.reply, `outside:${CLIENT_IP}`);
  });
});

describe("sourcePreservingConnector", () => {
  let mesh: Mesh;
  const APP = { address: "127.77.33.1", port: 8080 };

  before(async () => {
    mesh = await Mesh.create();
    await mesh.peerApp(APP.address, APP.port, "app");
  });

  after(async () => {
    await mesh.close();
  });

  const peerOf = async (connect: ReturnType<typeof sourcePreservingConnector>, src: string, dst = APP) => {
    const s = await connect(dst, { address: src, port: 40000 });
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.end();
    await new Promise((r) => s.once("close", r));
    return Buffer.concat(chunks).toString();
  };

  it("presents the source when it can", async () => {
    const connect = sourcePreservingConnector(dialApp, { spoofable: () => true, warn: assert.fail });
    assert.equal(await peerOf(connect, "127.77.33.9"), "app:127.77.33.9");
  });

  // §2.5: "If the original source equals the destination IP, ztunnel connects without spoofing".
  it("does not spoof a pod calling itself, nor a source the runtime says is not a pod", async () => {
    const sources: Array<string | undefined> = [];
    const connect = sourcePreservingConnector(
      (dst, source) => {
        sources.push(source);
        return dialApp(dst, source);
      },
      { spoofable: (src) => src.address !== "127.77.33.8", warn: assert.fail },
    );
    assert.equal(await peerOf(connect, APP.address), "app:127.0.0.1");
    assert.equal(await peerOf(connect, "127.77.33.8"), "app:127.0.0.1");
    assert.deepEqual(sources, [undefined, undefined]);
  });

  it("falls back to the proxy's own address when the source cannot be bound, and says why once", async () => {
    const warnings: string[] = [];
    const connect = sourcePreservingConnector(dialApp, { spoofable: () => true, warn: (m) => warnings.push(m) });
    // 203.0.113.1 and 203.0.113.2 (TEST-NET-3) are not local, and a plain socket has no IP_TRANSPARENT: bind fails.
    assert.equal(await peerOf(connect, "203.0.113.1"), "app:127.0.0.1");
    assert.equal(await peerOf(connect, "203.0.113.2"), "app:127.0.0.1");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /cannot preserve source IP 203\.0\.113\.1 toward 127\.77\.33\.1:8080 \(.*EADDRNOTAVAIL/);
  });

  it("an app that refuses is the answer: no fallback, no warning", async () => {
    let dials = 0;
    const connect = sourcePreservingConnector(
      (dst, source) => {
        dials++;
        return dialApp(dst, source);
      },
      { spoofable: () => true, warn: assert.fail },
    );
    await assert.rejects(connect({ address: APP.address, port: 1 }, { address: "127.77.33.9", port: 1 }), {
      code: "ECONNREFUSED",
    });
    assert.equal(dials, 1);
  });
});
