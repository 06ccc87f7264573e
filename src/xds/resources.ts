// Packing Ambit's xDS resources into Any, naming them as Istio does, and checking what arrives.
import { createHash } from "node:crypto";
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type Any, AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import { AmbitError } from "../errors.js";
import { type WaypointConfig, WaypointConfigSchema } from "./gen/ambit/waypoint/waypoint_pb.js";
import { type Authorization, AuthorizationSchema } from "./gen/istio/security/authorization_pb.js";
import { type Address, AddressSchema } from "./gen/istio/workload/workload_pb.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, type VersionedResource, WAYPOINT_CONFIG_TYPE_URL } from "./types.js";

/** A version derived from content, so an unchanged resource keeps its version across restarts. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
}

function pack<D extends DescMessage>(typeUrl: string, schema: D, message: MessageShape<D>): VersionedResource {
  const value = toBinary(schema, message);
  return { version: contentVersion(value), resource: create(AnySchema, { typeUrl, value }) };
}

/** A workload is named by its uid, a service by "namespace/hostname" (spec data-plane.md §4.2). */
export function addressName(address: Address): string {
  switch (address.type.case) {
    case "workload":
      return address.type.value.uid;
    case "service":
      return `${address.type.value.namespace}/${address.type.value.hostname}`;
    default:
      throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", "Address holds neither a workload nor a service");
  }
}

export function addressResource(address: Address): [string, VersionedResource] {
  return [addressName(address), pack(ADDRESS_TYPE_URL, AddressSchema, address)];
}

export function authorizationResource(policy: Authorization): [string, VersionedResource] {
  return [`${policy.namespace}/${policy.name}`, pack(AUTHORIZATION_TYPE_URL, AuthorizationSchema, policy)];
}

export function waypointConfigResource(config: WaypointConfig): [string, VersionedResource] {
  return [`${config.namespace}/${config.name}`, pack(WAYPOINT_CONFIG_TYPE_URL, WaypointConfigSchema, config)];
}

function unpack<D extends DescMessage>(any: Any, typeUrl: string, schema: D): MessageShape<D> {
  if (any.typeUrl !== typeUrl) {
    throw new AmbitError("AMBIT_XDS_TYPE_MISMATCH", `expected ${typeUrl}, got ${any.typeUrl || "(empty)"}`);
  }
  try {
    const message = anyUnpack(any, schema);
    if (message === undefined) throw new Error("empty Any");
    return message;
  } catch (cause) {
    throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", `cannot decode ${typeUrl}: ${String(cause)}`, { cause });
  }
}

export const decodeAddress = (any: Any): Address => unpack(any, ADDRESS_TYPE_URL, AddressSchema);
export const decodeAuthorization = (any: Any): Authorization =>
  unpack(any, AUTHORIZATION_TYPE_URL, AuthorizationSchema);
export const decodeWaypointConfig = (any: Any): WaypointConfig =>
  unpack(any, WAYPOINT_CONFIG_TYPE_URL, WaypointConfigSchema);

function parseJson(text: string, name: string): void {
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", `${name}: config_json is not JSON`, { cause });
  }
}

/**
 * The client's default validation: the resource decodes as its type and is named as Istio names it.
 * Unknown type URLs pass untouched, since newer control planes may send types this build does not know.
 */
export function validateResource(typeUrl: string, name: string, any: Any): void {
  let expected: string;
  switch (typeUrl) {
    case ADDRESS_TYPE_URL:
      expected = addressName(decodeAddress(any));
      break;
    case AUTHORIZATION_TYPE_URL: {
      const a = decodeAuthorization(any);
      expected = `${a.namespace}/${a.name}`;
      break;
    }
    case WAYPOINT_CONFIG_TYPE_URL: {
      const w = decodeWaypointConfig(any);
      expected = `${w.namespace}/${w.name}`;
      if (w.configJson !== "") parseJson(w.configJson, name);
      break;
    }
    default:
      return;
  }
  if (expected !== name) {
    throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", `resource named ${name} holds ${expected}`);
  }
}
