// End-to-end capture inside real network namespaces: the in-pod rules of data-plane.md §2.3 steering
// traffic to listeners that a root-netns Node process opened inside the pods (§2.2), and the
// source-IP-preserving delivery of §2.5. Needs root, iproute2, iptables, curl and the built addon.
import assert from "node:assert/strict";
import type { RemoteInfo, Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { Server, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { INPOD_MARK, ZtunnelPorts } from "../../src/dataplane/capture/constants.js";
import { run } from "../../src/dataplane/capture/exec.js";
import { applyInpodRules, removeInpodRules } from "../../src/dataplane/capture/iptables.js";
import {
  bindUdpInNetns,
  connectFromNetns,
  listenInNetns,
  listenServerInNetns,
  originalDestination,
} from "../../src/dataplane/capture/listeners.js";
import { isAmbitError } from "../../src/errors.js";
import {
  captureSkipReason,
  closeServers,
  createTwoPods,
  destroyAll,
  httpGetOver,
  nextConnection,
  type TwoPods,
  testPrefix,
} from "./support.js";

const skip = await captureSkipReason();
const APP_PORT = 8080;

describe("in-pod traffic capture", { skip, timeout: 30_000 }, () => {
  const prefix = testPrefix("c");
  let pods: TwoPods;
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  let appCalls = 0;
  let outboundCalls = 0;
  let outbound: Server;
  let inbound: Server;
  let hbone: Server;

  const track = (s: Socket) => {
    sockets.push(s);
    return s;
  };
  const curl = async (ns: string, url: string) =>
    (await run("ip", ["netns", "exec", ns, "curl", "-sS", "-g", "--max-time", "5", url])).stdout;

  before(async () => {
    await destroyAll(prefix);
    pods = await createTwoPods(prefix);
    // Pod B's application: says who called it and on which address.
    const app = createHttpServer((req, res) => {
      appCalls++;
      res.end(`app saw ${req.socket.remoteAddress} -> ${req.socket.localAddress}:${req.socket.localPort}`);
    });
    servers.push(await listenServerInNetns(app, pods.b.ns, { port: APP_PORT, family: 6, mark: false }));
    // Pod A's ztunnel-side listeners, opened from this (root-netns) process. Dual-stack like ztunnel's [::].
    const outboundHttp = createHttpServer((req, res) => {
      outboundCalls++;
      const dst = originalDestination(req.socket);
      res.end(`captured ${dst.address}:${dst.port} family ${dst.family} from ${req.socket.remoteAddress}`);
    });
    outbound = await listenServerInNetns(outboundHttp, pods.a.ns, { port: ZtunnelPorts.outbound, family: 6 });
    inbound = await listenInNetns(pods.a.ns, { port: ZtunnelPorts.inboundPlaintext }, track);
    hbone = await listenInNetns(pods.a.ns, { port: ZtunnelPorts.inboundHbone }, track);
    servers.push(outbound, inbound, hbone);
    await applyInpodRules(pods.a.ns);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await closeServers(servers);
    await destroyAll(prefix);
  });

  // §2.2: a socket created in the pod's netns stays there, although this process runs in the root netns.
  test("a listener opened from the root netns lives in the pod's netns and accepts pod traffic", async () => {
    const listening = await run("ip", [
      "netns",
      "exec",
      pods.a.ns,
      "ss",
      "-Hltn",
      `sport = :${ZtunnelPorts.inboundHbone}`,
    ]);
    assert.match(listening.stdout, /LISTEN/);
    const accepted = nextConnection(hbone);
    const client = track(
      await connectFromNetns(pods.b.ns, { host: pods.a.ip, port: ZtunnelPorts.inboundHbone, timeoutMs: 3000 }),
    );
    const server = await accepted;
    assert.equal(server.localAddress, pods.a.ip);
    assert.equal(server.remoteAddress, pods.b.ip);
    assert.equal(client.remoteAddress, pods.a.ip);
  });

  // §2.3 nat ISTIO_OUTPUT: app TCP to a non-local address is REDIRECTed to 15001; SO_ORIGINAL_DST recovers it.
  test("an app's outbound connection is redirected to 15001 and originalDst is the real destination", async () => {
    const before = appCalls;
    const body = await curl(pods.a.ns, `http://${pods.b.ip}:${APP_PORT}/`);
    assert.equal(body, `captured ${pods.b.ip}:${APP_PORT} family 4 from ::ffff:${pods.a.ip}`);
    assert.equal(appCalls, before, "the real destination must not be reached");
  });

  // §2.3 nat ISTIO_PRERT: inbound TCP to any port but 15008 goes to the plaintext port 15006.
  test("inbound traffic to the app port is redirected to 15006 with the original destination kept", async () => {
    const accepted = nextConnection(inbound);
    track(await connectFromNetns(pods.b.ns, { host: pods.a.ip, port: APP_PORT, timeoutMs: 3000 }));
    const socket = await accepted;
    assert.equal(socket.remoteAddress, pods.b.ip);
    assert.deepEqual(originalDestination(socket), { address: pods.a.ip, port: APP_PORT, family: 4 });
  });

  // §2.3: `! --dport 15008` — HBONE arrives at its own listener untouched.
  test("inbound HBONE on 15008 is not redirected", async () => {
    let redirected = 0;
    const count = () => redirected++;
    inbound.on("connection", count);
    const accepted = nextConnection(hbone);
    track(await connectFromNetns(pods.b.ns, { host: pods.a.ip, port: ZtunnelPorts.inboundHbone, timeoutMs: 3000 }));
    const socket = await accepted;
    inbound.off("connection", count);
    assert.equal(socket.localPort, ZtunnelPorts.inboundHbone);
    assert.equal(redirected, 0);
  });

  // §2.2/§2.3: sockets ztunnel makes in the pod carry mark 1337 and skip capture, so there is no loop.
  test("a socket marked 1337 in the pod is not captured and reaches the destination", async () => {
    const before = outboundCalls;
    const socket = await connectFromNetns(pods.a.ns, {
      host: pods.b.ip,
      port: APP_PORT,
      mark: INPOD_MARK,
      timeoutMs: 3000,
    });
    assert.equal(await httpGetOver(socket), `app saw ::ffff:${pods.a.ip} -> ::ffff:${pods.b.ip}:${APP_PORT}`);
    assert.equal(outboundCalls, before);
  });

  test("the same connection without the mark is captured", async () => {
    const socket = await connectFromNetns(pods.a.ns, { host: pods.b.ip, port: APP_PORT, timeoutMs: 3000 });
    assert.equal(await httpGetOver(socket), `captured ${pods.b.ip}:${APP_PORT} family 4 from ::ffff:${pods.a.ip}`);
  });

  test("a connect that gets no answer fails with AMBIT_CAPTURE_CONNECT_TIMEOUT, and a hostname is refused", async () => {
    await assert.rejects(
      connectFromNetns(pods.a.ns, { host: "10.251.0.99", port: 9, mark: INPOD_MARK, timeoutMs: 200 }),
      (e) => isAmbitError(e, "AMBIT_CAPTURE_CONNECT_TIMEOUT"),
    );
    await assert.rejects(connectFromNetns(pods.a.ns, { host: "pod-b.default", port: APP_PORT }), (e) =>
      isAmbitError(e, "AMBIT_CAPTURE_BAD_ADDRESS"),
    );
  });

  // §2.5: the inbound leg binds the client's IP with IP_TRANSPARENT + mark 1337; connmark 0x111 and
  // `fwmark 0x111 lookup 100` route the app's replies back to that socket.
  test("a spoofed-source connect inside pod B shows the client's IP to B's app", async () => {
    await applyInpodRules(pods.b.ns);
    try {
      const socket = await connectFromNetns(pods.b.ns, {
        host: pods.b.ip,
        port: APP_PORT,
        localAddress: pods.a.ip,
        mark: INPOD_MARK,
        timeoutMs: 3000,
      });
      assert.equal(socket.localAddress, pods.a.ip);
      assert.equal(await httpGetOver(socket), `app saw ::ffff:${pods.a.ip} -> ::ffff:${pods.b.ip}:${APP_PORT}`);
    } finally {
      await removeInpodRules(pods.b.ns);
    }
  });

  // §2.2 + §2.5 together: a plaintext mini ztunnel. A's 15001 forwards (marked, from inside A) to the
  // destination; B's 15006 captures it and delivers to the app from inside B with A's IP.
  test("a connection relayed through both pods' ztunnel ports reaches the app with the client's IP", async () => {
    await applyInpodRules(pods.b.ns);
    const relays: Server[] = [];
    try {
      const pipeTo = (ns: string, spoof: boolean) => (client: Socket) => {
        track(client);
        const dst = originalDestination(client);
        const source = client.remoteAddress?.replace(/^::ffff:/, "");
        connectFromNetns(ns, {
          host: dst.address,
          port: dst.port,
          mark: INPOD_MARK,
          ...(spoof && source !== undefined ? { localAddress: source } : {}),
          timeoutMs: 3000,
        }).then(
          (upstream) => {
            track(upstream);
            client.pipe(upstream).pipe(client);
          },
          () => client.destroy(),
        );
      };
      relays.push(
        await listenInNetns(pods.a.ns, { port: 15101 }, pipeTo(pods.a.ns, false)),
        await listenInNetns(pods.b.ns, { port: ZtunnelPorts.inboundPlaintext }, pipeTo(pods.b.ns, true)),
      );
      // Point A's capture at the relay instead of the test's 15001 reporter; the relay's own marked
      // connections must still pass, as in the real rules.
      const redirect = `-t nat -I ISTIO_OUTPUT 1 -d ${pods.b.ip} -p tcp --dport ${APP_PORT} -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15101`;
      await run("ip", ["netns", "exec", pods.a.ns, "iptables", ...redirect.split(" ")]);
      const body = await curl(pods.a.ns, `http://${pods.b.ip}:${APP_PORT}/`);
      assert.equal(body, `app saw ::ffff:${pods.a.ip} -> ::ffff:${pods.b.ip}:${APP_PORT}`);
    } finally {
      await applyInpodRules(pods.a.ns);
      await removeInpodRules(pods.b.ns);
      await closeServers(relays);
    }
  });

  // §2.3 for IPv6: ip6tables rules, `! -d ::1/128`, and IP6T_SO_ORIGINAL_DST on the dual-stack listener.
  test("IPv6 outbound traffic is captured and originalDst reports the IPv6 destination", async () => {
    await applyInpodRules(pods.a.ns, { family: 6 });
    try {
      const body = await curl(pods.a.ns, `http://[${pods.b.ip6}]:${APP_PORT}/`);
      assert.equal(body, `captured ${pods.b.ip6}:${APP_PORT} family 6 from ${pods.a.ip6}`);
    } finally {
      await removeInpodRules(pods.a.ns, { family: 6 });
    }
  });

  // §2.3 DNS capture (+ §7): UDP to any resolver's port 53 lands on ztunnel's DNS proxy at 15053, whose own
  // marked queries still reach the real resolver; conntrack makes the answer look like the resolver's.
  test("with DNS capture, a UDP query goes to the 15053 proxy and its marked upstream query does not", async () => {
    await applyInpodRules(pods.a.ns, { captureDns: true });
    const udp: UdpSocket[] = [];
    try {
      const resolver = await bindUdpInNetns(pods.b.ns, { port: 53, mark: false });
      const proxy = await bindUdpInNetns(pods.a.ns, { port: ZtunnelPorts.dns, host: "127.0.0.1" });
      const app = await bindUdpInNetns(pods.a.ns, { port: 0, mark: false });
      // Like ztunnel, the proxy asks upstream from its own (marked) socket: one bound to 127.0.0.1 cannot leave lo.
      const forwarder = await bindUdpInNetns(pods.a.ns, { port: 0 });
      udp.push(resolver, proxy, app, forwarder);

      const atProxy = once(proxy, "message") as Promise<[Buffer, RemoteInfo]>;
      app.send("query", 53, pods.b.ip);
      const [query, from] = await atProxy;
      assert.equal(query.toString(), "query");
      assert.equal(from.address, pods.a.ip);

      const atResolver = once(resolver, "message") as Promise<[Buffer, RemoteInfo]>;
      forwarder.send("upstream", 53, pods.b.ip);
      const [upstream, proxyAddress] = await atResolver;
      assert.equal(upstream.toString(), "upstream");
      assert.equal(proxyAddress.address, pods.a.ip);

      const atApp = once(app, "message") as Promise<[Buffer, RemoteInfo]>;
      proxy.send("answer", from.port, from.address);
      const [answer, replier] = await atApp;
      assert.equal(answer.toString(), "answer");
      assert.deepEqual([replier.address, replier.port], [pods.b.ip, 53]);
    } finally {
      for (const s of udp) s.close();
      await applyInpodRules(pods.a.ns);
    }
  });

  test("removing the rules releases capture without restarting the listeners", async () => {
    await removeInpodRules(pods.a.ns);
    const before = outboundCalls;
    const body = await curl(pods.a.ns, `http://${pods.b.ip}:${APP_PORT}/`);
    assert.equal(body, `app saw ::ffff:${pods.a.ip} -> ::ffff:${pods.b.ip}:${APP_PORT}`);
    assert.equal(outboundCalls, before);
    assert.ok(outbound.listening, "the 15001 listener is still up");
    await applyInpodRules(pods.a.ns);
    assert.match(await curl(pods.a.ns, `http://${pods.b.ip}:${APP_PORT}/`), /^captured /);
  });
});
