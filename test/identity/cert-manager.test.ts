import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { isAmbitError } from "../../src/errors.js";
import { MeshCa } from "../../src/identity/ca.js";
import { type CertificateClient, CertificateManager } from "../../src/identity/cert-manager.js";
import { createCsr } from "../../src/identity/csr.js";
import { FakeClock } from "./fake-clock.js";

const FOO = "spiffe://cluster.local/ns/default/sa/foo";
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1);

/** A CA behind an in-process CertificateClient that counts calls and can be switched off. */
async function setup() {
  const clock = new FakeClock(T0);
  const ca = await MeshCa.generate({ authorizer: () => true, now: () => clock.now() });
  const state = { calls: 0, failing: false };
  const client: CertificateClient = {
    async createCertificate(csrPem, validitySeconds, identity) {
      state.calls++;
      if (state.failing) throw new Error("CA unreachable");
      return ca.sign(csrPem, { node: "node-a", identity, ttlMs: validitySeconds * 1000 });
    },
  };
  const manager = new CertificateManager({ client, clock });
  return { clock, state, manager };
}

// data-plane.md §4.3 "Lifecycle": 24 h TTL, refresh at half-life, retries with backoff capped at 150 s.
describe("certificate manager", () => {
  it("concurrent requests for one identity share one CA call", async () => {
    const { state, manager } = await setup();
    const certs = await Promise.all(Array.from({ length: 20 }, () => manager.get(FOO)));
    assert.equal(state.calls, 1);
    assert.ok(certs.every((c) => c === certs[0]));
    assert.equal(certs[0]!.identity, FOO);
    assert.equal(certs[0]!.notAfter - certs[0]!.notBefore, 24 * HOUR);
    manager.stop();
  });

  it("renews at half-life and emits a rotation event; the cache serves the new cert", async () => {
    const { clock, state, manager } = await setup();
    const first = await manager.get(FOO);
    assert.deepEqual(clock.pending(), [T0 + 12 * HOUR]);
    clock.advance(12 * HOUR - 1);
    assert.equal(state.calls, 1, "no renewal before half-life");
    const rotated = once(manager, "rotated");
    clock.advance(1);
    const [next, previous] = (await rotated) as [typeof first, typeof first];
    assert.equal(state.calls, 2);
    assert.equal(previous, first);
    assert.equal(next.notBefore, T0 + 12 * HOUR);
    assert.notEqual(next.keyPem, first.keyPem, "each renewal uses a fresh key");
    assert.equal(manager.peek(FOO), next);
    assert.equal(await manager.get(FOO), next);
    assert.deepEqual(clock.pending(), [T0 + 24 * HOUR]);
    manager.stop();
  });

  it("never returns an expired certificate, even when renewal keeps failing", async () => {
    const { clock, state, manager } = await setup();
    const first = await manager.get(FOO);
    state.failing = true;
    const failures: number[] = [];
    manager.on("fetchFailed", () => failures.push(clock.now()));
    clock.advance(12 * HOUR);
    await once(manager, "fetchFailed");
    assert.equal(manager.peek(FOO), first, "still valid: keep serving it");
    // Backoff: 1 s, 2 s, 4 s, ... capped at 150 s.
    for (const step of [1, 2, 4, 8]) {
      clock.advance(step * 1000);
      await once(manager, "fetchFailed");
    }
    assert.deepEqual(
      failures.map((t) => t - (T0 + 12 * HOUR)),
      [0, 1000, 3000, 7000, 15000],
    );
    clock.advance(12 * HOUR); // past notAfter
    assert.ok(clock.now() >= first.notAfter);
    assert.equal(manager.peek(FOO), undefined);
    await assert.rejects(manager.get(FOO), /CA unreachable/);
    state.failing = false;
    const fresh = await manager.get(FOO);
    assert.ok(fresh.notAfter > clock.now());
    manager.stop();
  });

  it("backoff is capped at 150 s", async () => {
    const { clock, state, manager } = await setup();
    state.failing = true;
    manager.add(FOO);
    await once(manager, "fetchFailed");
    for (let i = 0; i < 9; i++) {
      clock.advance(clock.pending()[0]! - clock.now());
      await once(manager, "fetchFailed");
    }
    assert.equal(clock.pending()[0]! - clock.now(), 150_000);
    manager.stop();
  });

  it("removing an identity stops its renewals", async () => {
    const { clock, manager } = await setup();
    await manager.get(FOO);
    manager.remove(FOO);
    assert.deepEqual(clock.pending(), []);
    assert.equal(manager.peek(FOO), undefined);
    manager.stop();
  });

  it("rejects a CA answer for a different identity", async () => {
    const clock = new FakeClock(T0);
    const ca = await MeshCa.generate({ authorizer: () => true, now: () => clock.now() });
    const other = "spiffe://cluster.local/ns/default/sa/other";
    const client: CertificateClient = {
      createCertificate: async () => ca.sign((await createCsr(other)).csrPem, { node: "n", identity: other }),
    };
    const manager = new CertificateManager({ client, clock });
    await assert.rejects(manager.get(FOO), (e) => isAmbitError(e, "AMBIT_CERT_BAD_RESPONSE"));
    manager.stop();
  });
});
