// Wire compatibility with Istio's workload API and Envoy's delta xDS: the field numbers must be the
// published ones, so bytes are checked, not just round-trips. Spec: data-plane.md §4.2.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WaypointConfigSchema } from "../../src/xds/gen/ambit/waypoint/waypoint_pb.js";
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
} from "../../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { Action, AuthorizationSchema, Scope } from "../../src/xds/gen/istio/security/authorization_pb.js";
import {
  AddressSchema,
  ServiceSchema,
  TunnelProtocol,
  WorkloadSchema,
} from "../../src/xds/gen/istio/workload/workload_pb.js";
import {
  addressResource,
  authorizationResource,
  decodeAddress,
  decodeWaypointConfig,
  validateResource,
  waypointConfigResource,
} from "../../src/xds/resources.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/types.js";

const tag = (field: number, wireType: number) => (field << 3) | wireType;
const VARINT = 0;
const LEN = 2;

/** The bytes of one length-delimited field with a one-byte tag and one-byte length. */
function lenField(field: number, payload: Uint8Array | string): number[] {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return [tag(field, LEN), bytes.length, ...bytes];
}

describe("workload API wire format", () => {
  test("Workload.uid is field 20 and tunnel_protocol field 5", () => {
    // Field 20, wire type 2 needs a two-byte varint tag: (20 << 3 | 2) = 162 = 0xa2 0x01.
    const bytes = toBinary(WorkloadSchema, create(WorkloadSchema, { uid: "u" }));
    assert.deepEqual([...bytes], [0xa2, 0x01, 1, "u".charCodeAt(0)]);
    const hbone = toBinary(WorkloadSchema, create(WorkloadSchema, { tunnelProtocol: TunnelProtocol.HBONE }));
    assert.deepEqual([...hbone], [tag(5, VARINT), 1]);
  });

  test("Workload.addresses is repeated bytes field 3 holding raw IPv4", () => {
    const bytes = toBinary(WorkloadSchema, create(WorkloadSchema, { addresses: [new Uint8Array([10, 0, 0, 7])] }));
    assert.deepEqual([...bytes], lenField(3, new Uint8Array([10, 0, 0, 7])));
  });

  test("Workload.services is map field 22 of namespace/hostname to PortList", () => {
    const w = create(WorkloadSchema, {
      services: { "default/r": { ports: [{ servicePort: 80, targetPort: 9080 }] } },
    });
    const bytes = [...toBinary(WorkloadSchema, w)];
    // Field 22 LEN: tag (22 << 3 | 2) = 178 = 0xb2 0x01.
    assert.deepEqual(bytes.slice(0, 2), [0xb2, 0x01]);
    const entry = bytes.slice(3);
    const port = [tag(1, VARINT), 80, tag(2, VARINT), 0x80 | (9080 & 0x7f), 9080 >> 7];
    const portList = lenField(1, new Uint8Array(port));
    assert.deepEqual(entry, [...lenField(1, "default/r"), ...lenField(2, new Uint8Array(portList))]);
    assert.deepEqual(
      fromBinary(WorkloadSchema, new Uint8Array(bytes)).services["default/r"]?.ports[0]?.targetPort,
      9080,
    );
  });

  test("Workload.capacity (27) is a UInt32Value wrapper and waypoint (8) a GatewayAddress", () => {
    const w = create(WorkloadSchema, {
      capacity: 3,
      waypoint: { destination: { case: "hostname", value: { namespace: "ns", hostname: "wp" } }, hboneMtlsPort: 15008 },
    });
    const back = fromBinary(WorkloadSchema, toBinary(WorkloadSchema, w));
    assert.equal(back.capacity, 3);
    assert.equal(back.waypoint?.hboneMtlsPort, 15008);
    const capacityOnly = toBinary(WorkloadSchema, create(WorkloadSchema, { capacity: 3 }));
    // Field 27 LEN (0xda 0x01), length 2, inner field 1 varint 3.
    assert.deepEqual([...capacityOnly], [0xda, 0x01, 2, tag(1, VARINT), 3]);
  });

  test("Address oneof: workload is field 1, service is field 2", () => {
    const svc = create(AddressSchema, { type: { case: "service", value: { hostname: "h" } } });
    assert.deepEqual([...toBinary(AddressSchema, svc)], lenField(2, new Uint8Array(lenField(3, "h"))));
    const wl = create(AddressSchema, { type: { case: "workload", value: { name: "n" } } });
    assert.deepEqual([...toBinary(AddressSchema, wl)], lenField(1, new Uint8Array(lenField(1, "n"))));
  });

  test("Service.waypoint is field 7 and addresses are NetworkAddress{network=1, address=2} at field 4", () => {
    const s = create(ServiceSchema, { addresses: [{ network: "n", address: new Uint8Array([10, 96, 0, 1]) }] });
    const inner = [...lenField(1, "n"), ...lenField(2, new Uint8Array([10, 96, 0, 1]))];
    assert.deepEqual([...toBinary(ServiceSchema, s)], lenField(4, new Uint8Array(inner)));
    const wp = create(ServiceSchema, { waypoint: { hboneMtlsPort: 1 } });
    assert.deepEqual([...toBinary(ServiceSchema, wp)], lenField(7, new Uint8Array([tag(3, VARINT), 1])));
  });
});

describe("authorization wire format", () => {
  test("Authorization: scope 3, action 4, rules 5 > clauses 1 > matches 2 > destination_ports 9", () => {
    const a = create(AuthorizationSchema, {
      scope: Scope.NAMESPACE,
      action: Action.DENY,
      rules: [{ clauses: [{ matches: [{ destinationPorts: [8080] }] }] }],
    });
    const ports = [tag(9, LEN), 2, 0x80 | (8080 & 0x7f), 8080 >> 7]; // packed repeated uint32
    const match = lenField(2, new Uint8Array(ports));
    const clause = lenField(1, new Uint8Array(match));
    const rule = lenField(5, new Uint8Array(clause));
    assert.deepEqual([...toBinary(AuthorizationSchema, a)], [tag(3, VARINT), 1, tag(4, VARINT), 1, ...rule]);
  });

  test("StringMatch.presence is field 4 (an Empty) and principals field 3", () => {
    const a = create(AuthorizationSchema, {
      rules: [{ clauses: [{ matches: [{ notPrincipals: [{ matchType: { case: "presence", value: {} } }] }] }] }],
    });
    const back = fromBinary(AuthorizationSchema, toBinary(AuthorizationSchema, a));
    assert.equal(back.rules[0]?.clauses[0]?.matches[0]?.notPrincipals[0]?.matchType.case, "presence");
    const principal = create(AuthorizationSchema, {
      rules: [{ clauses: [{ matches: [{ principals: [{ matchType: { case: "prefix", value: "p" } }] }] }] }],
    });
    const bytes = [...toBinary(AuthorizationSchema, principal)];
    const sm = lenField(2, "p");
    assert.deepEqual(bytes.slice(-sm.length - 2), [...lenField(3, new Uint8Array(sm))]);
  });
});

describe("delta discovery wire format", () => {
  test("DeltaDiscoveryRequest: type_url 2, initial_resource_versions 5, response_nonce 6", () => {
    const r = create(DeltaDiscoveryRequestSchema, { typeUrl: "t", responseNonce: "n" });
    assert.deepEqual([...toBinary(DeltaDiscoveryRequestSchema, r)], [...lenField(2, "t"), ...lenField(6, "n")]);
    const iv = create(DeltaDiscoveryRequestSchema, { initialResourceVersions: { a: "1" } });
    assert.deepEqual(
      [...toBinary(DeltaDiscoveryRequestSchema, iv)],
      lenField(5, new Uint8Array([...lenField(1, "a"), ...lenField(2, "1")])),
    );
  });

  test("DeltaDiscoveryResponse: removed_resources 6, nonce 5, Resource{version 1, name 3}", () => {
    const r = create(DeltaDiscoveryResponseSchema, {
      nonce: "n",
      removedResources: ["x"],
      resources: [{ name: "a", version: "v" }],
    });
    const resource = [...lenField(1, "v"), ...lenField(3, "a")];
    assert.deepEqual(
      [...toBinary(DeltaDiscoveryResponseSchema, r)],
      [...lenField(2, new Uint8Array(resource)), ...lenField(5, "n"), ...lenField(6, "x")],
    );
  });
});

describe("resource packing", () => {
  test("an Address round-trips through Any and is named by uid or namespace/hostname", () => {
    const [name, r] = addressResource(
      create(AddressSchema, { type: { case: "workload", value: { uid: "c//v1/Pod/ns/p", name: "p" } } }),
    );
    assert.equal(name, "c//v1/Pod/ns/p");
    assert.equal(r.resource.typeUrl, ADDRESS_TYPE_URL);
    const back = decodeAddress(r.resource);
    assert.equal(back.type.case === "workload" && back.type.value.name, "p");
    const [svcName] = addressResource(
      create(AddressSchema, { type: { case: "service", value: { namespace: "ns", hostname: "h.ns.svc" } } }),
    );
    assert.equal(svcName, "ns/h.ns.svc");
  });

  test("the version follows the content: equal messages share it, a change alters it", () => {
    const a = create(AuthorizationSchema, { name: "p", namespace: "ns" });
    const [n1, r1] = authorizationResource(a);
    const [, r2] = authorizationResource(create(AuthorizationSchema, { name: "p", namespace: "ns" }));
    const [, r3] = authorizationResource(create(AuthorizationSchema, { name: "p", namespace: "ns", action: 1 }));
    assert.equal(n1, "ns/p");
    assert.equal(r1.resource.typeUrl, AUTHORIZATION_TYPE_URL);
    assert.equal(r1.version, r2.version);
    assert.notEqual(r1.version, r3.version);
  });

  test("validateResource rejects a wrong type, a misnamed resource and a WaypointConfig with bad JSON", () => {
    const [name, r] = waypointConfigResource(
      create(WaypointConfigSchema, { name: "wp", namespace: "ns", configJson: '{"routes":[]}' }),
    );
    assert.equal(decodeWaypointConfig(r.resource).configJson, '{"routes":[]}');
    validateResource(r.resource.typeUrl, name, r.resource);
    assert.throws(() => validateResource(ADDRESS_TYPE_URL, name, r.resource), { code: "AMBIT_XDS_TYPE_MISMATCH" });
    assert.throws(() => validateResource(r.resource.typeUrl, "ns/other", r.resource), {
      code: "AMBIT_XDS_INVALID_RESOURCE",
    });
    const [badName, bad] = waypointConfigResource(
      create(WaypointConfigSchema, { name: "wp", namespace: "ns", configJson: "{" }),
    );
    assert.throws(() => validateResource(bad.resource.typeUrl, badName, bad.resource), {
      code: "AMBIT_XDS_INVALID_RESOURCE",
    });
  });
});
