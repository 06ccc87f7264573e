// The pool's transport hook (data-plane.md §2.2, §2.5): a ztunnel dials each pod's HBONE from inside that pod, so
// the far side sees the pod's IP. On loopback, binding 127.0.0.x stands in for "dialed from the pod's netns".
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { DialTarget } from "../../src/dataplane/hbone/pool.js";
import { closeServer, echoOrigin, type Pair, readAll, SERVER_ID, startPair } from "./harness.js";

function dialFrom(localAddress: string, target: DialTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: target.host, port: target.port, localAddress });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

describe("HBONE pool with a dialer", () => {
  let pair: Pair;
  let echo: Awaited<ReturnType<typeof echoOrigin>>;
  const dials: Array<{ source: string | undefined; key: string }> = [];
  /** Source address of the connection each tunnel arrived on, in arrival order. */
  const arrivedFrom: string[] = [];
  const SOURCES: Record<string, string> = { "pod-a": "127.0.0.2", "pod-b": "127.0.0.3" };

  before(async () => {
    echo = await echoOrigin();
    pair = await startPair({
      pool: {
        dial: (target, key) => {
          dials.push({ source: target.source, key });
          return dialFrom(SOURCES[target.source ?? ""] ?? "127.0.0.1", target);
        },
      },
    });
    pair.server.on("tunnel", (info) => arrivedFrom.push(info.remoteAddress));
  });

  after(async () => {
    await pair.close();
    await closeServer(echo.server);
  });

  const roundTrip = async (source: string | undefined, text: string) => {
    const t = await pair.pool.connect({
      address: pair.address,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID],
      ...(source ? { source } : {}),
    });
    t.end(text);
    return (await readAll(t)).toString();
  };

  it("the session runs over the dialer's socket, so the server sees the dialer's source address", async () => {
    assert.equal(await roundTrip("pod-a", "hello"), "hello");
    assert.deepEqual(
      dials.map((d) => d.source),
      ["pod-a"],
    );
    assert.deepEqual(arrivedFrom, ["127.0.0.2"]);
  });

  it("sessions are keyed per source: one source reuses its session, another never shares it", async () => {
    assert.equal(await roundTrip("pod-a", "again"), "again");
    assert.equal(await roundTrip("pod-b", "other"), "other");
    assert.equal(await roundTrip("pod-b", "other again"), "other again");
    assert.deepEqual(
      dials.map((d) => d.source),
      ["pod-a", "pod-b"],
    );
    assert.notEqual(dials[0]?.key, dials[1]?.key);
    assert.deepEqual(arrivedFrom, ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]);
    assert.equal(pair.pool.stats().sessions, 2);
  });
});

describe("HBONE pool dialer failures", () => {
  it("a dialer that fails is AMBIT_HBONE_CONNECT_FAILED, with the dialer's reason", async () => {
    const pair = await startPair({ pool: { dial: () => Promise.reject(new Error("EPERM in the pod netns")) } });
    await assert.rejects(
      pair.pool.connect({ address: pair.address, target: "127.0.0.1:1", expectedIdentities: [SERVER_ID] }),
      (e: Error & { code?: string }) =>
        e.code === "AMBIT_HBONE_CONNECT_FAILED" && /EPERM in the pod netns/.test(e.message),
    );
    assert.equal(pair.pool.stats().sessions, 0);
    await pair.close();
  });

  it("a dialer that throws synchronously is reported the same way", async () => {
    const pair = await startPair({
      pool: {
        dial: () => {
          throw new Error("capture addon missing");
        },
      },
    });
    await assert.rejects(
      pair.pool.connect({ address: pair.address, target: "127.0.0.1:1", expectedIdentities: [SERVER_ID] }),
      (e: Error & { code?: string }) =>
        e.code === "AMBIT_HBONE_CONNECT_FAILED" && /capture addon missing/.test(e.message),
    );
    await pair.close();
  });

  it("a dialer that never answers is AMBIT_HBONE_CONNECT_TIMEOUT after connectTimeoutMs, and a late socket is closed", async () => {
    let late: Socket | undefined;
    let deliver: (() => void) | undefined;
    const pair = await startPair({
      pool: {
        connectTimeoutMs: 100,
        dial: (target) =>
          new Promise<Socket>((resolve) => {
            deliver = () =>
              void dialFrom("127.0.0.1", target).then((s) => {
                late = s;
                resolve(s);
              });
          }),
      },
    });
    const started = Date.now();
    await assert.rejects(
      pair.pool.connect({ address: pair.address, target: "127.0.0.1:1", expectedIdentities: [SERVER_ID] }),
      (e: Error & { code?: string }) => e.code === "AMBIT_HBONE_CONNECT_TIMEOUT",
    );
    assert.ok(Date.now() - started < 1_000);
    deliver?.();
    for (let i = 0; i < 100 && !late?.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(late?.destroyed, true);
    await pair.close();
  });
});
