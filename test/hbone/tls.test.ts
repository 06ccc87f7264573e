import assert from "node:assert/strict";
import { once } from "node:events";
import { connect as h2connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { HbonePool } from "../../src/dataplane/hbone/pool.js";
import { type AmbitError, isAmbitError } from "../../src/errors.js";
import { EXPIRED, testCa, workloadCert } from "./fixtures.js";
import { CLIENT_ID, closeServer, echoOrigin, type Pair, SERVER_ID, startPair } from "./harness.js";

// data-plane.md §1.2: mutual TLS 1.3, AES-GCM only, ALPN h2; the client checks the server's SPIFFE id against
// an expected list; the server checks chain + trust domain and hands the peer identity to authorization.
describe("HBONE TLS", () => {
  let pair: Pair;
  let origin: Awaited<ReturnType<typeof echoOrigin>>;
  let target: string;
  const rejected: AmbitError[] = [];
  const authorized: string[] = [];

  before(async () => {
    origin = await echoOrigin();
    target = `127.0.0.1:${origin.port}`;
    pair = await startPair({
      server: {
        authorize: (peer, t) => {
          authorized.push(`${peer} -> ${t.host}:${t.port}`);
          return peer.endsWith("/sa/denied") ? "denied by test policy" : true;
        },
      },
    });
    pair.server.on("rejected", (e) => rejected.push(e));
  });

  after(async () => {
    await pair.close();
    await closeServer(origin.server);
  });

  beforeEach(() => {
    rejected.length = 0;
  });

  /** The server's most recent refusal, waiting briefly for it to be reported. */
  const lastRejection = async () => {
    for (let i = 0; i < 50 && rejected.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    return rejected.pop();
  };

  it("negotiates TLS 1.3, an AES-GCM suite and h2, and exposes the client identity to authorize", async () => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port: pair.server.port,
      ...pair.clientCert,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    await once(s, "secureConnect");
    assert.equal(s.getProtocol(), "TLSv1.3");
    assert.equal(s.getCipher().name, "TLS_AES_256_GCM_SHA384");
    assert.equal(s.alpnProtocol, "h2");
    s.destroy();
    const tunnel = await pair.pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] });
    tunnel.end();
    tunnel.resume();
    await once(tunnel, "close");
    assert.ok(authorized.includes(`${CLIENT_ID} -> 127.0.0.1:${origin.port}`));
  });

  it("a client offering only ChaCha20 is refused", async () => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port: pair.server.port,
      ...pair.clientCert,
      ciphers: "TLS_CHACHA20_POLY1305_SHA256",
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    const [err] = await once(s, "error");
    assert.match(String((err as Error).message), /handshake failure|alert/i);
    assert.equal((await lastRejection())?.code, "AMBIT_HBONE_HANDSHAKE");
  });

  it("a server identity outside the expected list is refused by the client (AMBIT_HBONE_PEER_IDENTITY)", async () => {
    await assert.rejects(
      pair.pool.connect({
        address: pair.address,
        target,
        expectedIdentities: ["spiffe://cluster.local/ns/default/sa/someone-else"],
      }),
      (e) => isAmbitError(e, "AMBIT_HBONE_PEER_IDENTITY") && e.message.includes(SERVER_ID),
    );
  });

  it("a server certificate from an unknown CA is refused by the client (AMBIT_HBONE_PEER_UNTRUSTED)", async () => {
    const stranger = await testCa();
    const fake = await workloadCert(stranger, SERVER_ID);
    const other = await startPair({ ca: stranger, server: { certs: () => fake } });
    try {
      const pool = new HbonePool({ certs: () => pair.clientCert });
      await assert.rejects(
        pool.connect({ address: other.address, target, expectedIdentities: [SERVER_ID] }),
        (e) =>
          isAmbitError(e, "AMBIT_HBONE_PEER_UNTRUSTED") && /UNABLE_TO_VERIFY|SELF_SIGNED_CERT_IN_CHAIN/.test(e.message),
      );
      await pool.close();
    } finally {
      await other.close();
    }
  });

  it("an expired server certificate is refused by the client", async () => {
    const old = await workloadCert(pair.ca, SERVER_ID, { ageMs: EXPIRED });
    const other = await startPair({ ca: pair.ca, server: { certs: () => old } });
    try {
      await assert.rejects(
        other.pool.connect({ address: other.address, target, expectedIdentities: [SERVER_ID] }),
        (e) => isAmbitError(e, "AMBIT_HBONE_PEER_UNTRUSTED") && e.message.includes("CERT_HAS_EXPIRED"),
      );
    } finally {
      await other.close();
    }
  });

  it("a client certificate from an unknown CA is refused by the server", async () => {
    const stranger = await testCa();
    const fake = await workloadCert(stranger, CLIENT_ID, { trust: [pair.ca.ca.rootPem] });
    const pool = new HbonePool({ certs: () => fake });
    await assert.rejects(pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] }), (e) =>
      isAmbitError(e, "AMBIT_HBONE_SESSION_CLOSED"),
    );
    const r = await lastRejection();
    assert.equal(r?.code, "AMBIT_HBONE_PEER_UNTRUSTED");
    assert.match(r!.message, /UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY|SELF_SIGNED_CERT_IN_CHAIN/);
    await pool.close();
  });

  it("an expired client certificate is refused by the server", async () => {
    const old = await workloadCert(pair.ca, CLIENT_ID, { ageMs: EXPIRED });
    const pool = new HbonePool({ certs: () => old });
    await assert.rejects(pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] }), (e) =>
      isAmbitError(e, "AMBIT_HBONE_SESSION_CLOSED"),
    );
    const r = await lastRejection();
    assert.equal(r?.code, "AMBIT_HBONE_PEER_UNTRUSTED");
    assert.match(r!.message, /CERT_HAS_EXPIRED/);
    await pool.close();
  });

  it("a client from another trust domain is refused even when its CA is trusted (AMBIT_HBONE_TRUST_DOMAIN)", async () => {
    const foreign = await testCa("other.local");
    // The server trusts both roots (federation), but only its own trust domain may connect.
    const both = [pair.ca.ca.rootPem, foreign.ca.rootPem];
    const serverCert = await workloadCert(pair.ca, SERVER_ID, { trust: both });
    const other = await startPair({ ca: pair.ca, server: { certs: () => serverCert } });
    other.server.on("rejected", (e) => rejected.push(e));
    const alien = await workloadCert(foreign, "spiffe://other.local/ns/default/sa/client", {
      trust: [pair.ca.ca.rootPem],
    });
    const pool = new HbonePool({ certs: () => alien });
    try {
      await assert.rejects(pool.connect({ address: other.address, target, expectedIdentities: [SERVER_ID] }), (e) =>
        isAmbitError(e, "AMBIT_HBONE_SESSION_CLOSED"),
      );
      const r = await lastRejection();
      assert.equal(r?.code, "AMBIT_HBONE_TRUST_DOMAIN");
      assert.match(r!.message, /spiffe:\/\/other\.local\/ns\/default\/sa\/client/);
    } finally {
      await pool.close();
      await other.close();
    }
  });

  it("plaintext to the HBONE port gets no HTTP answer and is reported as a handshake failure", async () => {
    const s = netConnect({ host: "127.0.0.1", port: pair.server.port });
    await once(s, "connect");
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", () => {});
    await once(s, "close");
    assert.ok(!Buffer.concat(chunks).toString("latin1").startsWith("HTTP/"));
    const r = await lastRejection();
    assert.equal(r?.code, "AMBIT_HBONE_HANDSHAKE");
  });

  it("prior-knowledge plaintext HTTP/2 is refused the same way", async () => {
    const session = h2connect(`http://127.0.0.1:${pair.server.port}`);
    session.on("error", () => {});
    const req = session.request({ ":method": "CONNECT", ":authority": target });
    req.on("error", () => {});
    await once(session, "close");
    assert.equal((await lastRejection())?.code, "AMBIT_HBONE_HANDSHAKE");
  });

  // §1.4: 401 when authorization denies.
  it("authorization denial answers 401 (AMBIT_HBONE_DENIED)", async () => {
    const denied = await workloadCert(pair.ca, "spiffe://cluster.local/ns/default/sa/denied");
    const pool = new HbonePool({ certs: () => denied });
    await assert.rejects(pool.connect({ address: pair.address, target, expectedIdentities: [SERVER_ID] }), (e) =>
      isAmbitError(e, "AMBIT_HBONE_DENIED"),
    );
    const r = await lastRejection();
    assert.equal(r?.code, "AMBIT_HBONE_DENIED");
    assert.equal(r?.message, "denied by test policy");
    await pool.close();
  });

  it("non-CONNECT methods and bad authorities answer 400; unreachable upstreams 503", async () => {
    await assert.rejects(
      pair.pool.connect({ address: pair.address, target: "no-port.example", expectedIdentities: [SERVER_ID] }),
      (e) => isAmbitError(e, "AMBIT_HBONE_BAD_REQUEST"),
    );
    assert.equal((await lastRejection())?.code, "AMBIT_HBONE_BAD_REQUEST");
    const closed = await echoOrigin();
    await closeServer(closed.server);
    await assert.rejects(
      pair.pool.connect({ address: pair.address, target: `127.0.0.1:${closed.port}`, expectedIdentities: [SERVER_ID] }),
      (e) => isAmbitError(e, "AMBIT_HBONE_UNAVAILABLE"),
    );
    assert.equal((await lastRejection())?.code, "AMBIT_HBONE_UNAVAILABLE");
    const session = h2connect(`https://${pair.address}`, {
      ...pair.clientCert,
      checkServerIdentity: () => undefined,
    });
    const req = session.request({ ":method": "GET", ":path": "/" });
    const [headers] = await once(req, "response");
    assert.equal(headers[":status"], 400);
    req.resume();
    await once(req, "end");
    session.close();
    assert.equal((await lastRejection())?.code, "AMBIT_HBONE_BAD_REQUEST");
  });
});
