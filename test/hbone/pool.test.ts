import assert from "node:assert/strict";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { formatAuthority, newTraceparent, parseAuthority } from "../../src/dataplane/hbone/headers.js";
import { CLIENT_ID, closeServer, echoOrigin, type Pair, readAll, SERVER_ID, startPair } from "./harness.js";

// data-plane.md §1.5: pool key {source identity, expected identities, destination}; ≤100 streams per session;
// one dial per key under a burst; idle release.
describe("HBONE pool", () => {
  let pair: Pair;
  let echo: Awaited<ReturnType<typeof echoOrigin>>;
  /** Concurrent tunnels per server-side connection (keyed by the client's source port), and the peak of each. */
  const live = new Map<number, number>();
  const peak = new Map<number, number>();

  before(async () => {
    echo = await echoOrigin();
    pair = await startPair();
    pair.server.on("tunnel", (info) => {
      const n = (live.get(info.remotePort) ?? 0) + 1;
      live.set(info.remotePort, n);
      peak.set(info.remotePort, Math.max(peak.get(info.remotePort) ?? 0, n));
    });
  });

  after(async () => {
    await pair.close();
    await closeServer(echo.server);
  });

  it("500 concurrent tunnels use exactly 5 sessions and 5 dials, never more than 100 streams each", async () => {
    const before = pair.pool.stats().dials;
    const target = `127.0.0.1:${echo.port}`;
    const tunnels: Duplex[] = await Promise.all(
      Array.from({ length: 500 }, () =>
        pair.pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] }),
      ),
    );
    assert.equal(pair.pool.stats().dials - before, 5);
    assert.equal(pair.pool.stats().sessions, 5);
    assert.equal(pair.pool.stats().streams, 500);
    assert.equal(pair.server.sessionCount, 5);
    assert.deepEqual([...peak.values()], [100, 100, 100, 100, 100]);
    // Every tunnel is its own byte stream.
    const replies = tunnels.map((t, i) => {
      t.end(`tunnel-${i}`);
      return readAll(t);
    });
    const got = (await Promise.all(replies)).map((b) => b.toString());
    assert.deepEqual(
      got,
      tunnels.map((_, i) => `tunnel-${i}`),
    );
    await Promise.all(tunnels.map((t) => (t.closed ? undefined : once(t, "close"))));
    assert.equal(pair.pool.stats().streams, 0);
    // Once streams are back, a new tunnel reuses a pooled session.
    const again = await pair.pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] });
    again.end();
    await readAll(again);
    assert.equal(pair.pool.stats().dials - before, 5);
  });

  it("different expected identity lists are different pool keys", async () => {
    const before = pair.pool.stats().dials;
    const target = `127.0.0.1:${echo.port}`;
    const a = await pair.pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID, CLIENT_ID] });
    const b = await pair.pool.connect({ address: pair.address, target, expectedIdentities: [CLIENT_ID, SERVER_ID] });
    const c = await pair.pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] });
    for (const t of [a, b, c]) t.end();
    await Promise.all([a, b, c].map(readAll));
    // [SERVER_ID, CLIENT_ID] and its permutation share a key; [SERVER_ID] is already pooled from before.
    assert.equal(pair.pool.stats().dials - before, 1);
  });

  it("sessions are released after being idle", async () => {
    const other = await startPair({ ca: pair.ca, pool: { idleTimeoutMs: 50 } });
    const t = await other.pool.connect({
      address: other.address,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID],
    });
    t.end();
    await readAll(t);
    assert.equal(other.pool.stats().sessions, 1);
    for (let i = 0; i < 100 && other.server.sessionCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(other.pool.stats().sessions, 0);
    assert.equal(other.server.sessionCount, 0);
    await other.close();
  });

  it("drain lets open tunnels finish and refuses new sessions", async () => {
    const other = await startPair({ ca: pair.ca });
    const t = await other.pool.connect({
      address: other.address,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID],
    });
    const drained = other.server.drain(5_000);
    t.write("late ");
    t.end("bytes");
    assert.equal((await readAll(t)).toString(), "late bytes");
    await drained;
    assert.equal(other.server.sessionCount, 0);
    await other.pool.close();
  });
});

// §1.4: the server parses :authority as a socket address, then as host:port; anything else is a 400.
describe("CONNECT authority", () => {
  it("accepts ip:port, [v6]:port and host:port", () => {
    assert.deepEqual(parseAuthority("10.0.0.1:8080"), { host: "10.0.0.1", port: 8080 });
    assert.deepEqual(parseAuthority("[fd00::1]:443"), { host: "fd00::1", port: 443 });
    assert.deepEqual(parseAuthority("reviews.default.svc.cluster.local:9080"), {
      host: "reviews.default.svc.cluster.local",
      port: 9080,
    });
    assert.equal(formatAuthority({ host: "fd00::1", port: 443 }), "[fd00::1]:443");
  });

  for (const bad of ["10.0.0.1", "fd00::1:443", "[fd00::1]", "host:0", "host:65536", "host:80x", ":80", "a b:80", ""]) {
    it(`rejects "${bad}"`, () => assert.equal(parseAuthority(bad), undefined));
  }
});

// §1.4: ztunnel sends a fresh W3C traceparent with every CONNECT; ours are sliced from pooled randomness.
describe("traceparent", () => {
  it("is well-formed and never repeats, also across refills of the randomness pool", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = newTraceparent();
      assert.match(t, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      seen.add(t.slice(3, 35));
    }
    assert.equal(seen.size, 1000);
  });
});
