// The capture addon's contract: sockets made in a netns with their options already set, and errors
// shaped like Node's (code = errno name, negative errno, syscall). feasibility.md §3.2, data-plane.md §2.2.
import assert from "node:assert/strict";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { run } from "../../src/dataplane/capture/exec.js";
import { originalDestination } from "../../src/dataplane/capture/listeners.js";
import { isCaptureAddonAvailable, loadCaptureAddon } from "../../src/dataplane/capture/native.js";
import { createNetns } from "../../src/dataplane/capture/netns.js";
import { captureSkipReason, closeServers, destroyAll, testPrefix } from "./support.js";

const addonSkip = isCaptureAddonAvailable() ? false : "capture addon not built: run npm run build:native";
const rootSkip = await captureSkipReason();
const SELF = "/proc/self/ns/net";

function listenOnFd(fd: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve) => server.listen({ fd }, () => resolve(server)));
}

describe("capture addon: argument and error contract", { skip: addonSkip }, () => {
  test("a family other than 4 or 6 is a TypeError with ERR_INVALID_ARG_VALUE", () => {
    const addon = loadCaptureAddon();
    assert.throws(() => addon.socketInNetns(SELF, 5 as 4, "tcp"), {
      name: "TypeError",
      code: "ERR_INVALID_ARG_VALUE",
      message: "family must be 4 or 6",
    });
    assert.throws(() => addon.socketInNetns(SELF, 4, "sctp" as "tcp"), { code: "ERR_INVALID_ARG_VALUE" });
    assert.throws(() => addon.socketInNetns(SELF, 4, "tcp", { mark: -1 }), { code: "ERR_INVALID_ARG_VALUE" });
    assert.throws(() => addon.socketInNetns(SELF, 4, "tcp", { transparent: 1 as unknown as boolean }), {
      message: "options.transparent must be a boolean",
    });
  });

  test("a missing netns path fails in open() with ENOENT", () => {
    assert.throws(() => loadCaptureAddon().socketInNetns("/run/netns/amt-does-not-exist", 4, "tcp"), {
      code: "ENOENT",
      errno: -2,
      syscall: "open",
    });
  });

  test("socket options on something that is not a socket fail with ENOTSOCK", () => {
    const fd = openSync("/dev/null", "r");
    try {
      assert.throws(() => loadCaptureAddon().setMark(fd, 1337), { code: "ENOTSOCK", syscall: "setsockopt(SO_MARK)" });
      assert.throws(() => loadCaptureAddon().originalDst(fd), { code: "ENOTSOCK" });
    } finally {
      closeSync(fd);
    }
  });
});

describe("capture addon: sockets in a netns", { skip: rootSkip, timeout: 30_000 }, () => {
  const prefix = testPrefix("n");
  const ns = `${prefix}-x`;
  const servers: Server[] = [];

  before(async () => {
    await destroyAll(prefix);
    await createNetns(ns);
  });

  after(async () => {
    await closeServers(servers);
    await destroyAll(prefix);
  });

  test("a namespace file of another kind is refused by setns() with EINVAL", () => {
    assert.throws(() => loadCaptureAddon().socketInNetns("/proc/self/ns/uts", 4, "tcp"), {
      code: "EINVAL",
      syscall: "setns",
    });
  });

  // §2.2: the mark must be on the socket before its first packet, i.e. before Node adopts it.
  test("the mark is on the socket when the fd is returned, and the socket is in the target netns", async () => {
    const addon = loadCaptureAddon();
    const fd = addon.socketInNetns(`/run/netns/${ns}`, 4, "tcp", { mark: 1337, reuseAddr: true });
    addon.bind(fd, "127.0.0.1", 0);
    const server = await listenOnFd(fd);
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    const inside = await run("ip", ["netns", "exec", ns, "ss", "-Htlne", `sport = :${port}`]);
    assert.match(inside.stdout, /fwmark:0x539/);
  });

  test("binding a foreign address needs IP_TRANSPARENT", () => {
    const addon = loadCaptureAddon();
    const plain = addon.socketInNetns(`/run/netns/${ns}`, 4, "tcp");
    const transparent = addon.socketInNetns(`/run/netns/${ns}`, 4, "tcp", {
      transparent: true,
      bindAddressNoPort: true,
    });
    try {
      assert.throws(() => addon.bind(plain, "203.0.113.9", 0), { code: "EADDRNOTAVAIL", syscall: "bind" });
      addon.bind(transparent, "203.0.113.9", 0);
    } finally {
      closeSync(plain);
      closeSync(transparent);
    }
  });

  test("an IPv4 address binds as v4-mapped on an IPv6 socket", async () => {
    const addon = loadCaptureAddon();
    const fd = addon.socketInNetns(`/run/netns/${ns}`, 6, "tcp");
    addon.bind(fd, "127.0.0.1", 0);
    const server = await listenOnFd(fd);
    servers.push(server);
    assert.equal((server.address() as { address: string }).address, "::ffff:127.0.0.1");
    const udp = addon.socketInNetns(SELF, 4, "udp");
    try {
      assert.throws(() => addon.bind(udp, "::1", 0), { message: "address must be an IPv4 address for an IPv4 socket" });
    } finally {
      closeSync(udp);
    }
  });

  test("originalDst on a connection that was never redirected fails with ENOENT", async () => {
    const addon = loadCaptureAddon();
    const server = createServer();
    servers.push(server);
    const fd = addon.socketInNetns(`/run/netns/${ns}`, 4, "tcp");
    addon.bind(fd, "127.0.0.1", 0);
    await new Promise<void>((resolve) => server.listen({ fd }, resolve));
    const port = (server.address() as { port: number }).port;
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const client = run("ip", ["netns", "exec", ns, "curl", "-s", "--max-time", "2", `http://127.0.0.1:${port}/`], {
      allowFailure: true,
    });
    const [socket] = await accepted;
    try {
      assert.throws(() => originalDestination(socket), { code: "ENOENT", syscall: "getsockopt(SO_ORIGINAL_DST)" });
    } finally {
      socket.destroy();
    }
    await client;
  });
});
