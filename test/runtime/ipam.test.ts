// Deterministic, reusable IP allocation for pods and Service VIPs (issue 6: "IP allocation (deterministic,
// reusable)"; Service spec.clusterIP honoured when inside the CIDR).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isAmbitError } from "../../src/errors.js";
import { cidrContains, cidrsOverlap, IpAllocator, parseAnyCidr, parseCidr } from "../../src/runtime/ipam.js";

test("the lowest free address after the reserved ones wins, and a released address is reused", () => {
  const ips = new IpAllocator(parseCidr("10.88.0.0/16"), 10);
  assert.equal(ips.allocate("a"), "10.88.0.10");
  assert.equal(ips.allocate("b"), "10.88.0.11");
  assert.equal(ips.allocate("a"), "10.88.0.10", "an owner keeps its address");
  ips.release("a");
  assert.equal(ips.allocate("c"), "10.88.0.10");
});

test("a claim succeeds only inside the block, outside the reserved range and when free", () => {
  const ips = new IpAllocator(parseCidr("10.96.0.0/16"), 11);
  assert.equal(ips.claim("svc", "10.96.3.4"), true);
  assert.equal(ips.addressOf("svc"), "10.96.3.4");
  assert.equal(ips.claim("other", "10.96.3.4"), false);
  assert.equal(ips.claim("other", "10.97.0.20"), false);
  assert.equal(ips.claim("other", "10.96.0.10"), false);
  assert.equal(ips.claim("other", "10.96.255.255"), false, "broadcast");
});

test("allocation fails with a stable code when the block is full", () => {
  const ips = new IpAllocator(parseCidr("10.0.0.0/28"), 14);
  ips.allocate("only");
  assert.throws(
    () => ips.allocate("more"),
    (e) => isAmbitError(e, "AMBIT_RUNTIME_CIDR_EXHAUSTED"),
  );
});

test("CIDRs with host bits or outside /8../28 are refused; route prefixes of any size parse", () => {
  assert.throws(
    () => parseCidr("10.88.1.0/16"),
    (e) => isAmbitError(e, "AMBIT_RUNTIME_BAD_CIDR"),
  );
  assert.throws(
    () => parseCidr("10.0.0.0/30"),
    (e) => isAmbitError(e, "AMBIT_RUNTIME_BAD_CIDR"),
  );
  assert.throws(
    () => parseCidr("10.0.0.300/16"),
    (e) => isAmbitError(e, "AMBIT_RUNTIME_BAD_CIDR"),
  );
  assert.deepEqual(parseAnyCidr("192.0.2.7"), { base: 0xc0000207, bits: 32, size: 1 });
  assert.ok(cidrsOverlap(parseCidr("10.88.0.0/16"), parseAnyCidr("10.88.4.0/24")));
  assert.ok(!cidrsOverlap(parseCidr("10.88.0.0/16"), parseCidr("10.89.0.0/16")));
});

test("property: addresses are unique, inside the block, and the same sequence gives the same addresses", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 80 }), (ops) => {
      const runOnce = () => {
        const ips = new IpAllocator(parseCidr("10.1.0.0/24"), 10);
        const out: string[] = [];
        for (const [release, id] of ops) {
          if (release) ips.release(`p${id}`);
          else out.push(ips.allocate(`p${id}`));
        }
        const held = Array.from({ length: 41 }, (_, i) => ips.addressOf(`p${i}`)).filter((a) => a !== undefined);
        assert.equal(new Set(held).size, held.length);
        for (const a of held) assert.ok(cidrContains(parseCidr("10.1.0.0/24"), a));
        return out;
      };
      assert.deepEqual(runOnce(), runOnce());
    }),
  );
});
