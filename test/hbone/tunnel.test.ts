import assert from "node:assert/strict";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { baggageHeader, forwardedHeader } from "../../src/dataplane/hbone/headers.js";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { isAmbitError } from "../../src/errors.js";
import { workloadCert } from "./fixtures.js";
import {
  CLIENT_ID,
  closeServer,
  echoOrigin,
  hashOrigin,
  listen,
  type Pair,
  readAll,
  SERVER_ID,
  startPair,
} from "./harness.js";

// data-plane.md §1.4: 200 before bytes flow; bidirectional copy with half-close; request headers.
describe("HBONE tunnels", () => {
  let pair: Pair;
  let echo: Awaited<ReturnType<typeof echoOrigin>>;
  let hash: Awaited<ReturnType<typeof hashOrigin>>;
  const seenHeaders: Array<Record<string, unknown>> = [];

  before(async () => {
    echo = await echoOrigin();
    hash = await hashOrigin();
    pair = await startPair();
    pair.server.on("tunnel", (info) => seenHeaders.push(info.headers));
  });

  after(async () => {
    await pair.close();
    await closeServer(echo.server);
    await closeServer(hash.server);
  });

  const tunnel = (port: number, headers?: Record<string, string>) =>
    pair.pool.connect({
      address: pair.address,
      target: `127.0.0.1:${port}`,
      expectedIdentities: [SERVER_ID],
      ...(headers ? { headers } : {}),
    });

  it("sends traceparent (random per connection), baggage and forwarded with the CONNECT", async () => {
    seenHeaders.length = 0;
    const baggage = baggageHeader({
      clusterName: "c1",
      namespace: "default",
      workloadName: "client",
      serviceName: "client",
    });
    const forwarded = forwardedHeader({ host: "10.0.0.1", port: 40000 }, "server.default.svc.cluster.local");
    for (let i = 0; i < 2; i++) {
      const t = await tunnel(echo.port, { baggage, forwarded });
      t.end();
      await readAll(t);
    }
    assert.equal(seenHeaders.length, 2);
    const [a, b] = seenHeaders as [Record<string, string>, Record<string, string>];
    assert.equal(a[":method"], "CONNECT");
    assert.equal(a[":authority"], `127.0.0.1:${echo.port}`);
    assert.equal(a[":path"], undefined);
    assert.equal(
      a.baggage,
      "k8s.cluster.name=c1,k8s.namespace.name=default,k8s.deployment.name=client,service.name=client",
    );
    assert.equal(a.forwarded, 'for="10.0.0.1:40000";host=server.default.svc.cluster.local');
    assert.match(a.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.notEqual(a.traceparent, b.traceparent);
  });

  it("carries 100 MiB intact (sha256 end to end)", async () => {
    const block = randomBytes(1 << 20);
    const expected = createHash("sha256");
    const t = await tunnel(hash.port);
    const reply = readAll(t);
    for (let i = 0; i < 100; i++) {
      block.writeUInt32BE(i, 0);
      expected.update(block);
      if (!t.write(Buffer.from(block))) await once(t, "drain");
    }
    t.end();
    assert.equal((await reply).toString(), `${expected.digest("hex")} ${100 << 20}`);
  });

  it("client half-close: the origin sees EOF and can still answer", async () => {
    const t = await tunnel(hash.port);
    t.end("abc");
    const reply = (await readAll(t)).toString();
    assert.equal(reply, `${createHash("sha256").update("abc").digest("hex")} 3`);
  });

  it("origin half-close: the client sees EOF and can keep sending", async () => {
    // An origin that says hello, closes its write side, then reports what it received after that.
    const got: Buffer[] = [];
    const origin = createServer({ allowHalfOpen: true }, (s: Socket) => {
      s.end("hello");
      s.on("data", (d: Buffer) => got.push(d));
    });
    const port = await listen(origin);
    const t = await tunnel(port);
    const chunks: Buffer[] = [];
    t.on("data", (d: Buffer) => chunks.push(d));
    await once(t, "end");
    assert.equal(Buffer.concat(chunks).toString(), "hello");
    t.write("still ");
    t.end("open");
    await once(t, "close");
    for (let i = 0; i < 50 && Buffer.concat(got).length < 10; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(got).toString(), "still open");
    await closeServer(origin);
  });

  it("the server going away mid-stream is an error on the client stream", async () => {
    const other = await startPair({ ca: pair.ca });
    const t = await other.pool.connect({
      address: other.address,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID],
    });
    t.write("ping");
    await once(t, "data");
    const failed = once(t, "error");
    await other.server.stop();
    const [err] = await failed;
    assert.ok(isAmbitError(err, "AMBIT_HBONE_STREAM_RESET"), String(err));
    await other.pool.close();
  });

  it("certificate rotation applies to new sessions and drops nothing on a live tunnel", async () => {
    let serverCert = await workloadCert(pair.ca, SERVER_ID);
    let clientCert = await workloadCert(pair.ca, CLIENT_ID);
    const other = await startPair({
      ca: pair.ca,
      server: { certs: () => serverCert },
      pool: { certs: () => clientCert },
    });
    const live: Duplex = await other.pool.connect({
      address: other.address,
      target: `127.0.0.1:${hash.port}`,
      expectedIdentities: [SERVER_ID],
    });
    const reply = readAll(live);
    const expected = createHash("sha256");
    let sent = 0;
    const pump = async (chunks: number) => {
      for (let i = 0; i < chunks; i++) {
        const c = randomBytes(64 * 1024);
        expected.update(c);
        sent += c.length;
        if (!live.write(c)) await once(live, "drain");
      }
    };
    await pump(20);
    const oldServerSerial = await serverSerial(other.address, clientCert);
    serverCert = await workloadCert(pair.ca, SERVER_ID);
    clientCert = await workloadCert(pair.ca, CLIENT_ID);
    await pump(20);
    // A new session (another key) is made with the new client cert, and the server now presents its new one.
    const fresh = await other.pool.connect({
      address: other.address,
      target: `127.0.0.1:${echo.port}`,
      expectedIdentities: [SERVER_ID, CLIENT_ID],
    });
    fresh.end("x");
    assert.equal((await readAll(fresh)).toString(), "x");
    const newServerSerial = await serverSerial(other.address, clientCert);
    assert.notEqual(newServerSerial, oldServerSerial);
    assert.equal(newServerSerial, serialOf(serverCert));
    await pump(20);
    live.end();
    assert.equal((await reply).toString(), `${expected.digest("hex")} ${sent}`);
    assert.equal(other.pool.stats().dials, 2);
    await other.close();
  });
});

function serialOf(src: CertSource): string {
  return new X509Certificate(src.cert as string).serialNumber;
}

/** The serial of the certificate the server presents to a new connection. */
async function serverSerial(address: string, creds: CertSource): Promise<string> {
  const [host, port] = address.split(":") as [string, string];
  const s = tlsConnect({
    host,
    port: Number(port),
    ...creds,
    ALPNProtocols: ["h2"],
    checkServerIdentity: () => undefined,
  });
  await once(s, "secureConnect");
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial;
}
