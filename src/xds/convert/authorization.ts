// The policy engine's L4 policy ↔ Istio's `istio.security.Authorization` (spec data-plane.md §5, control-plane.md §8).
//
// Two fields of upstream's schema are not in our .proto yet (docs/xds.md lists why): `Match.service_accounts` /
// `not_service_accounts` (11/12, message {namespace = 1, service_account = 2}) and `Authorization.dry_run` (6). They
// travel as protobuf unknown fields at those numbers, so the round trip is lossless, a real ztunnel reading the
// upstream schema sees them, and adding them to the .proto later changes no byte on the wire.
import { create, type UnknownField } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { AmbitError } from "../../errors.js";
import type {
  L4Address,
  L4Clause,
  L4Group,
  L4Match,
  L4Policy,
  L4ServiceAccountMatch,
  L4StringMatch,
} from "../../policy/ztunnel-policy.js";
import {
  Action,
  type Address,
  AddressSchema,
  type Authorization,
  AuthorizationSchema,
  ClauseSchema,
  type Match,
  MatchSchema,
  RuleSchema,
  Scope,
  type StringMatch,
  StringMatchSchema,
} from "../gen/istio/security/authorization_pb.js";
import { bytesToIp, ipToBytes } from "./ip-bytes.js";

const DRY_RUN_FIELD = 6;
const SERVICE_ACCOUNTS_FIELD = 11;
const NOT_SERVICE_ACCOUNTS_FIELD = 12;

const SCOPES: Record<L4Policy["scope"], Scope> = {
  GLOBAL: Scope.GLOBAL,
  NAMESPACE: Scope.NAMESPACE,
  WORKLOAD_SELECTOR: Scope.WORKLOAD_SELECTOR,
};

export function l4PolicyToProto(p: L4Policy): Authorization {
  const a = create(AuthorizationSchema, {
    name: p.name,
    namespace: p.namespace,
    scope: SCOPES[p.scope],
    action: p.action === "DENY" ? Action.DENY : Action.ALLOW,
    rules: p.groups.map((g) =>
      create(RuleSchema, {
        clauses: g.rules.map((c) => create(ClauseSchema, { matches: c.matches.map(matchToProto) })),
      }),
    ),
  });
  if (p.dryRun)
    a.$unknown = [{ no: DRY_RUN_FIELD, wireType: WireType.Varint, data: new BinaryWriter().bool(true).finish() }];
  return a;
}

export function protoToL4Policy(a: Authorization): L4Policy {
  const scope = (Object.keys(SCOPES) as Array<L4Policy["scope"]>).find((k) => SCOPES[k] === a.scope);
  if (scope === undefined)
    throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", `${a.namespace}/${a.name}: unknown scope ${a.scope}`);
  if (a.action !== Action.ALLOW && a.action !== Action.DENY) {
    throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", `${a.namespace}/${a.name}: unknown action ${a.action}`);
  }
  const groups: L4Group[] = a.rules.map((r) => ({
    rules: r.clauses.map((c): L4Clause => ({ matches: c.matches.map(matchFromProto) })),
  }));
  const dryRun = (a.$unknown ?? []).some(
    (f) => f.no === DRY_RUN_FIELD && f.wireType === WireType.Varint && new BinaryReader(f.data).bool(),
  );
  return {
    name: a.name,
    namespace: a.namespace,
    scope,
    action: a.action === Action.DENY ? "DENY" : "ALLOW",
    groups,
    dryRun,
  };
}

function matchToProto(m: L4Match): Match {
  const out = create(MatchSchema, {
    namespaces: (m.namespaces ?? []).map(stringToProto),
    notNamespaces: (m.notNamespaces ?? []).map(stringToProto),
    principals: (m.principals ?? []).map(stringToProto),
    notPrincipals: (m.notPrincipals ?? []).map(stringToProto),
    sourceIps: (m.sourceIps ?? []).map(addressToProto),
    notSourceIps: (m.notSourceIps ?? []).map(addressToProto),
    destinationIps: (m.destinationIps ?? []).map(addressToProto),
    notDestinationIps: (m.notDestinationIps ?? []).map(addressToProto),
    destinationPorts: [...(m.destinationPorts ?? [])],
    notDestinationPorts: [...(m.notDestinationPorts ?? [])],
  });
  const unknown: UnknownField[] = [
    ...(m.serviceAccounts ?? []).map((s) => serviceAccountField(SERVICE_ACCOUNTS_FIELD, s)),
    ...(m.notServiceAccounts ?? []).map((s) => serviceAccountField(NOT_SERVICE_ACCOUNTS_FIELD, s)),
  ];
  if (unknown.length > 0) out.$unknown = unknown;
  return out;
}

/** Only non-empty fields are set, as the policy engine's translation writes them. */
function matchFromProto(m: Match): L4Match {
  const out: L4Match = {};
  const set = <K extends keyof L4Match>(key: K, value: NonNullable<L4Match[K]>) => {
    if (value.length > 0) out[key] = value;
  };
  set("namespaces", m.namespaces.map(stringFromProto));
  set("notNamespaces", m.notNamespaces.map(stringFromProto));
  set("serviceAccounts", serviceAccountsFrom(m.$unknown, SERVICE_ACCOUNTS_FIELD));
  set("notServiceAccounts", serviceAccountsFrom(m.$unknown, NOT_SERVICE_ACCOUNTS_FIELD));
  set("principals", m.principals.map(stringFromProto));
  set("notPrincipals", m.notPrincipals.map(stringFromProto));
  set("sourceIps", m.sourceIps.map(addressFromProto));
  set("notSourceIps", m.notSourceIps.map(addressFromProto));
  set("destinationIps", m.destinationIps.map(addressFromProto));
  set("notDestinationIps", m.notDestinationIps.map(addressFromProto));
  set("destinationPorts", [...m.destinationPorts]);
  set("notDestinationPorts", [...m.notDestinationPorts]);
  return out;
}

function stringToProto(s: L4StringMatch): StringMatch {
  if ("exact" in s) return create(StringMatchSchema, { matchType: { case: "exact", value: s.exact } });
  if ("prefix" in s) return create(StringMatchSchema, { matchType: { case: "prefix", value: s.prefix } });
  if ("suffix" in s) return create(StringMatchSchema, { matchType: { case: "suffix", value: s.suffix } });
  return create(StringMatchSchema, { matchType: { case: "presence", value: create(EmptySchema) } });
}

function stringFromProto(s: StringMatch): L4StringMatch {
  switch (s.matchType.case) {
    case "exact":
      return { exact: s.matchType.value };
    case "prefix":
      return { prefix: s.matchType.value };
    case "suffix":
      return { suffix: s.matchType.value };
    case "presence":
      return { presence: true };
    default:
      throw new AmbitError("AMBIT_XDS_INVALID_RESOURCE", "StringMatch without a match type");
  }
}

function addressToProto(a: L4Address): Address {
  return create(AddressSchema, { address: ipToBytes(a.address), length: a.length });
}

function addressFromProto(a: Address): L4Address {
  return { address: bytesToIp(a.address), length: a.length };
}

function serviceAccountField(no: number, s: L4ServiceAccountMatch): UnknownField {
  const inner = new BinaryWriter();
  if (s.namespace !== "") inner.tag(1, WireType.LengthDelimited).string(s.namespace);
  if (s.serviceAccount !== "") inner.tag(2, WireType.LengthDelimited).string(s.serviceAccount);
  return { no, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(inner.finish()).finish() };
}

function serviceAccountsFrom(unknown: UnknownField[] | undefined, no: number): L4ServiceAccountMatch[] {
  const out: L4ServiceAccountMatch[] = [];
  for (const f of unknown ?? []) {
    if (f.no !== no || f.wireType !== WireType.LengthDelimited) continue;
    const reader = new BinaryReader(new BinaryReader(f.data).bytes());
    const sa: L4ServiceAccountMatch = { namespace: "", serviceAccount: "" };
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.LengthDelimited) sa.namespace = reader.string();
      else if (field === 2 && wireType === WireType.LengthDelimited) sa.serviceAccount = reader.string();
      else reader.skip(wireType);
    }
    out.push(sa);
  }
  return out;
}
