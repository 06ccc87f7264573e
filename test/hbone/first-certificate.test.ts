import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { type AmbitError, isAmbitError } from "../../src/errors.js";
import { closeServer, echoOrigin, readAll, SERVER_ID, startPair } from "./harness.js";

// A pod's first tunnel can arrive while its certificate is still being issued. ztunnel's inbound waits for the
// fetch instead of refusing the client (data-plane.md §4.3: certificates are fetched per workload identity on
// demand), so the HBONE server holds the connection unread until the certificate is there, within a bound.
describe("HboneServer: certificate still being issued", () => {
  let echo: Awaited<ReturnType<typeof echoOrigin>>;

  before(async () => {
    echo = await echoOrigin();
  });

  after(async () => {
    await closeServer(echo.server);
  });

  it("a tunnel that arrives before the certificate waits for it and then works", async () => {
    let issue: (c: CertSource) => void = () => {};
    const issued = new Promise<CertSource>((r) => {
      issue = r;
    });
    let asked = 0;
    const pair = await startPair({
      server: {
        certs: () => {
          asked++;
          return issued;
        },
      },
    });
    try {
      const connecting = pair.pool.connect({
        address: pair.address,
        target: `127.0.0.1:${echo.port}`,
        expectedIdentities: [SERVER_ID],
      });
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(asked, 1, "the connection asked for the certificate once and is waiting");
      issue(pair.serverCert);
      const stream = await connecting;
      stream.end("after the wait");
      assert.equal((await readAll(stream)).toString(), "after the wait");
    } finally {
      await pair.close();
    }
  });

  it("a certificate that does not come in time refuses the connection and says why", async () => {
    const pair = await startPair({ server: { certs: () => new Promise<CertSource>(() => {}), certWaitMs: 100 } });
    const rejected: AmbitError[] = [];
    pair.server.on("rejected", (e) => rejected.push(e));
    try {
      await assert.rejects(
        pair.pool.connect({ address: pair.address, target: `127.0.0.1:${echo.port}`, expectedIdentities: [SERVER_ID] }),
      );
      assert.equal(rejected.length, 1);
      assert.ok(isAmbitError(rejected[0], "AMBIT_HBONE_NO_CERTIFICATE"), String(rejected[0]));
      assert.match(rejected[0]!.message, /still waiting after 100 ms/);
    } finally {
      await pair.close();
    }
  });

  it("unusable key material refuses that connection and the server keeps serving with a good one", async () => {
    let broken = true;
    const pair = await startPair({
      server: {
        certs: () => (broken ? { key: "not a key", cert: "not a certificate", ca: "nothing" } : pair.serverCert),
      },
    });
    const rejected: AmbitError[] = [];
    pair.server.on("rejected", (e) => rejected.push(e));
    try {
      const req = { address: pair.address, target: `127.0.0.1:${echo.port}`, expectedIdentities: [SERVER_ID] };
      await assert.rejects(pair.pool.connect(req));
      assert.ok(isAmbitError(rejected[0], "AMBIT_HBONE_NO_CERTIFICATE"), String(rejected[0]));
      broken = false;
      const stream = await pair.pool.connect(req);
      stream.end("recovered");
      assert.equal((await readAll(stream)).toString(), "recovered");
    } finally {
      await pair.close();
    }
  });

  it("a failed issuance refuses the connection instead of serving without a certificate", async () => {
    const pair = await startPair({ server: { certs: () => Promise.reject(new Error("CA unreachable")) } });
    const rejected: AmbitError[] = [];
    pair.server.on("rejected", (e) => rejected.push(e));
    try {
      await assert.rejects(
        pair.pool.connect({ address: pair.address, target: `127.0.0.1:${echo.port}`, expectedIdentities: [SERVER_ID] }),
      );
      assert.ok(isAmbitError(rejected[0], "AMBIT_HBONE_NO_CERTIFICATE"));
      assert.match(rejected[0]!.message, /CA unreachable/);
    } finally {
      await pair.close();
    }
  });
});
