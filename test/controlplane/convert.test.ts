// Converters between Ambit's types and Istio's workload API (spec data-plane.md §4.2, §5; control-plane.md §8).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import type { L4Address, L4Match, L4Policy, L4StringMatch } from "../../src/policy/ztunnel-policy.js";
import { serviceToProto, workloadToProto } from "../../src/xds/convert/address.js";
import { protoToServiceView, protoToWorkloadView } from "../../src/xds/convert/address-views.js";
import { l4PolicyToProto, protoToL4Policy } from "../../src/xds/convert/authorization.js";
import { bytesToIp, ipToBytes } from "../../src/xds/convert/ip-bytes.js";
import { AuthorizationSchema } from "../../src/xds/gen/istio/security/authorization_pb.js";
import {
  NetworkMode,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
} from "../../src/xds/gen/istio/workload/workload_pb.js";
import { bookinfoModel } from "./fixtures.js";

const ctx = { clusterId: "Kubernetes", network: "", trustDomain: "cluster.local" };

describe("workload and service → Address (§4.2)", () => {
  const model = bookinfoModel();
  const reviews = model.workloads().find((w) => w.owner === "reviews-v2");
  const service = model.service("Service", "bookinfo", "reviews");
  assert.ok(reviews && service);

  test("a bookinfo pod carries istiod's uid, identity, canonical names, owner, services map and policies", () => {
    const pod = { ...reviews, ip: "10.244.1.7", node: "node-a" };
    const w = workloadToProto(pod, {
      ...ctx,
      services: [service],
      authorizationPolicies: ["bookinfo/reviews-callers"],
    });
    assert.equal(w.uid, `Kubernetes//Pod/bookinfo/${reviews.name}`);
    assert.equal(w.name, reviews.name);
    assert.equal(w.namespace, "bookinfo");
    assert.deepEqual(w.addresses, [new Uint8Array([10, 244, 1, 7])]);
    assert.equal(w.serviceAccount, "bookinfo-reviews");
    // istiod elides the default trust domain.
    assert.equal(w.trustDomain, "");
    assert.equal(w.node, "node-a");
    assert.equal(w.network, "");
    assert.equal(w.clusterId, "Kubernetes");
    assert.equal(w.canonicalName, "reviews");
    assert.equal(w.canonicalRevision, "v2");
    assert.equal(w.workloadName, "reviews-v2");
    assert.equal(w.workloadType, WorkloadType.DEPLOYMENT);
    assert.equal(w.tunnelProtocol, TunnelProtocol.HBONE);
    assert.equal(w.status, WorkloadStatus.HEALTHY);
    assert.equal(w.networkMode, NetworkMode.STANDARD);
    // Bookinfo's waypoint is for services: the pod itself has none.
    assert.equal(w.waypoint, undefined);
    assert.deepEqual(Object.keys(w.services), ["bookinfo/reviews.bookinfo.svc.cluster.local"]);
    assert.deepEqual(
      w.services["bookinfo/reviews.bookinfo.svc.cluster.local"]?.ports.map((p) => [p.servicePort, p.targetPort]),
      [[9080, 9080]],
    );
    assert.deepEqual(w.authorizationPolicies, ["bookinfo/reviews-callers"]);

    const view = protoToWorkloadView(w);
    assert.equal(view.identity, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
    assert.deepEqual(view.addresses, ["10.244.1.7"]);
    assert.equal(view.protocol, "HBONE");
    assert.deepEqual(view.services, {
      "bookinfo/reviews.bookinfo.svc.cluster.local": [{ servicePort: 9080, targetPort: 9080 }],
    });
  });

  test("an uncaptured workload is sent with tunnel protocol NONE", () => {
    const plain = { ...reviews, captured: false };
    assert.equal(
      workloadToProto(plain, { ...ctx, services: [], authorizationPolicies: [] }).tunnelProtocol,
      TunnelProtocol.NONE,
    );
  });

  test("a bookinfo service carries its hostname, VIP, ports and the waypoint in hostname form on 15008", () => {
    const s = serviceToProto({ ...service, vips: ["10.96.0.12"] }, ctx);
    assert.equal(s.name, "reviews");
    assert.equal(s.namespace, "bookinfo");
    assert.equal(s.hostname, "reviews.bookinfo.svc.cluster.local");
    assert.deepEqual(
      s.addresses.map((a) => [a.network, [...a.address]]),
      [["", [10, 96, 0, 12]]],
    );
    assert.deepEqual(
      s.ports.map((p) => [p.servicePort, p.targetPort]),
      [[9080, 9080]],
    );
    assert.equal(s.waypoint?.destination.case, "hostname");
    assert.deepEqual(protoToServiceView(s).waypoint, {
      kind: "hostname",
      namespace: "bookinfo",
      hostname: "waypoint.bookinfo.svc.cluster.local",
      hboneMtlsPort: 15008,
    });
    assert.deepEqual(protoToServiceView(s).vips, [{ network: "", address: "10.96.0.12" }]);
  });

  test("a waypoint with only an IP address is sent in address form", () => {
    const wp = service.binding.waypoint;
    assert.ok(wp);
    const s = serviceToProto(
      { ...service, binding: { ...service.binding, waypoint: { ...wp, address: "10.0.0.9" } } },
      ctx,
    );
    assert.deepEqual(protoToServiceView(s).waypoint, {
      kind: "address",
      network: "",
      address: "10.0.0.9",
      hboneMtlsPort: 15008,
    });
  });
});

describe("IP bytes", () => {
  test("IPv6 text comes back in RFC 5952 form", () => {
    assert.equal(bytesToIp(ipToBytes("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
    assert.equal(bytesToIp(ipToBytes("::")), "::");
    assert.equal(bytesToIp(ipToBytes("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
  });
});

// Canonical IPs only: the wire carries bytes, so "0:0::1" comes back as "::1" (same address, other text).
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join("."));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => {
  const b = new Uint8Array(16);
  g.forEach((x, i) => {
    b[i * 2] = x >> 8;
    b[i * 2 + 1] = x & 255;
  });
  return bytesToIp(b);
});
const address: fc.Arbitrary<L4Address> = fc.oneof(
  fc.record({ address: ipv4, length: fc.nat(32) }),
  fc.record({ address: ipv6, length: fc.nat(128) }),
);
const str: fc.Arbitrary<L4StringMatch> = fc.oneof(
  fc.record({ exact: fc.string() }),
  fc.record({ prefix: fc.string() }),
  fc.record({ suffix: fc.string() }),
  fc.constant({ presence: true as const }),
);
const some = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 3 });
const sa = fc.record({ namespace: fc.string(), serviceAccount: fc.string() });
const port = fc.nat(65535);
const match: fc.Arbitrary<L4Match> = fc.record(
  {
    namespaces: some(str),
    notNamespaces: some(str),
    serviceAccounts: some(sa),
    notServiceAccounts: some(sa),
    principals: some(str),
    notPrincipals: some(str),
    sourceIps: some(address),
    notSourceIps: some(address),
    destinationIps: some(address),
    notDestinationIps: some(address),
    destinationPorts: some(port),
    notDestinationPorts: some(port),
  },
  { requiredKeys: [] },
);
const policy: fc.Arbitrary<L4Policy> = fc.record({
  name: fc.string(),
  namespace: fc.string(),
  scope: fc.constantFrom("GLOBAL", "NAMESPACE", "WORKLOAD_SELECTOR"),
  action: fc.constantFrom("ALLOW", "DENY"),
  groups: fc.array(
    fc.record({ rules: fc.array(fc.record({ matches: fc.array(match, { maxLength: 3 }) }), { maxLength: 3 }) }),
    {
      maxLength: 3,
    },
  ),
  dryRun: fc.boolean(),
});

describe("L4 policy ↔ Authorization (§5, control-plane.md §8.4)", () => {
  test("the round trip through the wire bytes is lossless (property)", () => {
    fc.assert(
      fc.property(policy, (p) => {
        const bytes = toBinary(AuthorizationSchema, l4PolicyToProto(p));
        // fast-check builds null-prototype records; compare plain copies.
        assert.deepEqual(protoToL4Policy(fromBinary(AuthorizationSchema, bytes)), JSON.parse(JSON.stringify(p)));
      }),
      { numRuns: 300 },
    );
  });

  test("service accounts and dry-run travel at upstream's field numbers (Match 11/12, Authorization 6)", () => {
    const p: L4Policy = {
      name: "p",
      namespace: "ns",
      scope: "NAMESPACE",
      action: "ALLOW",
      dryRun: true,
      groups: [{ rules: [{ matches: [{ serviceAccounts: [{ namespace: "a", serviceAccount: "b" }] }] }] }],
    };
    const bytes = toBinary(AuthorizationSchema, l4PolicyToProto(p));
    const hex = Buffer.from(bytes).toString("hex");
    // Match: tag (11 << 3 | 2) = 0x5a, length 6, then {1: "a", 2: "b"}.
    assert.ok(hex.includes("5a060a01611201" + "62"), hex);
    // Authorization: tag (6 << 3 | 0) = 0x30, value 1.
    assert.ok(hex.endsWith("3001"), hex);
  });
});
