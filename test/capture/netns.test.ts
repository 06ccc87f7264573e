// The netns/bridge/veth plumbing `ambit up` builds virtual nodes and pods from, and the prefix cleanup
// `ambit down` relies on (feasibility.md §3.1 and §8: clean-up by name, veth removal is asynchronous).
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/dataplane/capture/exec.js";
import { connectFromNetns, listenInNetns } from "../../src/dataplane/capture/listeners.js";
import {
  attachToBridge,
  cleanupPrefix,
  createBridge,
  createNetns,
  createVethPair,
  listLinks,
  listNetns,
} from "../../src/dataplane/capture/netns.js";
import { isAmbitError } from "../../src/errors.js";
import { captureSkipReason, closeServers, destroyAll, testPrefix } from "./support.js";

const skip = await captureSkipReason();

test("names that ip would misread or truncate are refused before anything runs", async () => {
  const bad = (e: unknown) => isAmbitError(e, "AMBIT_CAPTURE_BAD_NAME");
  await assert.rejects(createNetns("-n"), bad);
  await assert.rejects(createBridge("a-name-of-16-chr"), bad);
  await assert.rejects(createVethPair({ name: "ok", peer: "bad name" }), bad);
});

test("cleanup refuses prefixes short enough to match host interfaces", async () => {
  for (const prefix of ["", "e", "et", "9abc"]) {
    await assert.rejects(cleanupPrefix(prefix), (e) => isAmbitError(e, "AMBIT_CAPTURE_BAD_NAME"));
  }
});

describe("virtual node and pod wiring", { skip, timeout: 30_000 }, () => {
  const prefix = testPrefix("w");
  const node = `${prefix}-node`;
  const pod = `${prefix}-pod`;

  before(() => destroyAll(prefix));
  after(() => destroyAll(prefix));

  test("a pod attached to a node's bridge gets its address, loopback, default route and reaches the gateway", async () => {
    await createNetns(node);
    await createBridge("br0", { netns: node, addresses: ["10.252.0.254/24"] });
    await createNetns(pod);
    await attachToBridge({
      netns: pod,
      bridge: "br0",
      bridgeNetns: node,
      hostIf: "veth-pod",
      addresses: ["10.252.0.7/24"],
      gateways: ["10.252.0.254"],
    });
    const links = await listLinks("", pod);
    assert.deepEqual(
      links.map((l) => [l.name, l.kind, l.up]),
      [
        ["lo", undefined, true],
        ["eth0", "veth", true],
      ],
    );
    const routes = JSON.parse((await run("ip", ["-n", pod, "-j", "route", "show", "default"])).stdout) as {
      gateway?: string;
    }[];
    assert.deepEqual(
      routes.map((r) => r.gateway),
      ["10.252.0.254"],
    );
    // Nothing of this lives in the root netns: the bridge and both veth ends are in the node and pod.
    assert.deepEqual(await listLinks("veth-pod"), []);

    const gateway = await listenInNetns(node, { port: 9000, host: "10.252.0.254", mark: false }, (s) => s.end("hi"));
    try {
      const socket = await connectFromNetns(pod, { host: "10.252.0.254", port: 9000, timeoutMs: 3000 });
      assert.equal(socket.localAddress, "10.252.0.7");
      const [greeting] = (await once(socket, "data")) as [Buffer];
      assert.equal(greeting.toString(), "hi");
      socket.end();
      await once(socket, "close");
    } finally {
      await closeServers([gateway]);
    }
  });

  test("cleanup removes every netns and virtual link with the prefix, waits for them, and is idempotent", async () => {
    await createBridge(`${prefix}b`);
    await createVethPair({ name: `${prefix}v`, peer: "eth1", peerNetns: pod });
    await run("ip", ["link", "set", `${prefix}v`, "master", `${prefix}b`]);
    const removed = await cleanupPrefix(prefix);
    assert.deepEqual(removed.netns.sort(), [node, pod]);
    // The veth may already be gone with its peer's netns, so only the bridge is sure to be deleted by name.
    assert.ok(removed.links.includes(`${prefix}b`));
    assert.deepEqual(await listNetns(prefix), []);
    assert.deepEqual(await listLinks(prefix), []);
    const ipNetns = await run("ip", ["netns", "list"]);
    assert.ok(!ipNetns.stdout.includes(prefix));
    const ipLink = await run("ip", ["link"]);
    assert.ok(!ipLink.stdout.includes(prefix));
    assert.deepEqual(await cleanupPrefix(prefix), { netns: [], links: [] });
  });

  // feasibility.md §8 left this open: a socket still open in a netns must not block `ambit down`.
  test("cleanup succeeds while a listener is still open inside the deleted netns", async () => {
    await createNetns(pod);
    const server = await listenInNetns(pod, { port: 9001 });
    try {
      await cleanupPrefix(prefix);
      assert.deepEqual(await listNetns(prefix), []);
      assert.ok(server.listening);
    } finally {
      await closeServers([server]);
    }
  });

  test("cleanup leaves links of kinds Ambit never creates", async () => {
    const foreign = `${prefix}f`;
    await run("ip", ["link", "add", foreign, "type", "ifb"]);
    try {
      await cleanupPrefix(prefix);
      assert.deepEqual(
        (await listLinks(prefix)).map((l) => [l.name, l.kind]),
        [[foreign, "ifb"]],
      );
    } finally {
      await run("ip", ["link", "del", foreign]);
    }
  });
});
