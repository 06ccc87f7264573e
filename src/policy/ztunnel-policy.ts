// AuthorizationPolicy → the L4 policy ztunnel enforces, shaped like Istio's workload API `Authorization` so the
// xDS layer can send it as is. Rules and status messages: control-plane.md §6 and §8.1–§8.4; policy.md §1.9.

import type { AuthorizationPolicy, Condition, Rule } from "../api/resources.js";
import { isDryRun } from "./dry-run.js";
import { parseCidr } from "./ip.js";
import { parseStringMatch } from "./string-match.js";

export type L4StringMatch = { exact: string } | { prefix: string } | { suffix: string } | { presence: true };

export interface L4Address {
  /** Textual IP; the xDS layer encodes it as bytes. */
  address: string;
  length: number;
}

export interface L4ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

/** Every field is OR-ed inside, AND-ed with the others; `not*` fields must all miss. No field = empty match. */
export interface L4Match {
  namespaces?: L4StringMatch[];
  notNamespaces?: L4StringMatch[];
  serviceAccounts?: L4ServiceAccountMatch[];
  notServiceAccounts?: L4ServiceAccountMatch[];
  principals?: L4StringMatch[];
  notPrincipals?: L4StringMatch[];
  sourceIps?: L4Address[];
  notSourceIps?: L4Address[];
  destinationIps?: L4Address[];
  notDestinationIps?: L4Address[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
}

/** A clause (`Rules` in the proto): any match. */
export interface L4Clause {
  matches: L4Match[];
}

/** One policy rule: every clause. */
export interface L4Group {
  rules: L4Clause[];
}

export type L4Scope = "GLOBAL" | "NAMESPACE" | "WORKLOAD_SELECTOR";

export interface L4Policy {
  name: string;
  namespace: string;
  scope: L4Scope;
  action: "ALLOW" | "DENY";
  groups: L4Group[];
  dryRun: boolean;
}

export interface ZtunnelTranslation {
  /** What istiod would send to ztunnel; null when nothing is sent. */
  sent: L4Policy | null;
  /** The `ZtunnelAccepted` condition; null for policies with targetRefs (they are not ztunnel's). */
  condition: Condition | null;
}

export interface ZtunnelTranslationOptions {
  /** AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY (default false). */
  enableDryRun?: boolean;
}

export const ZTUNNEL_ACCEPTED = "ZtunnelAccepted";

const HTTP_RULE_PREFIX = "ztunnel does not support HTTP attributes (found: ";
const HTTP_RULE_MIDDLE = "). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ";
const DENY_NO_EFFECT =
  "After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. Deploy a waypoint proxy and use a targetRef to enforce this policy.";
const DENY_MIXED =
  "DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.";
const ALLOW_OMITTED =
  "Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.";

const L4_WHEN_KEYS = new Set([
  "source.ip",
  "source.namespace",
  "source.principal",
  "destination.ip",
  "destination.port",
]);

function condition(p: AuthorizationPolicy, status: "True" | "False", reason: string, message: string): Condition {
  const c: Condition = { type: ZTUNNEL_ACCEPTED, status, reason, message };
  if (p.metadata.generation !== undefined) c.observedGeneration = p.metadata.generation;
  return c;
}

export function toZtunnelPolicy(
  ap: AuthorizationPolicy,
  rootNamespace: string,
  opts: ZtunnelTranslationOptions = {},
): ZtunnelTranslation {
  const spec = ap.spec ?? {};
  const ns = ap.metadata.namespace ?? "default";
  if ((spec.targetRefs?.length ?? 0) > 0 || spec.targetRef) return { sent: null, condition: null };
  const dryRun = isDryRun(ap.metadata.annotations);
  if (dryRun && opts.enableDryRun !== true) {
    const msg = `found policy "${ns}/${ap.metadata.name}" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled`;
    return { sent: null, condition: condition(ap, "False", "UnsupportedValue", msg) };
  }
  const action = spec.action ?? "ALLOW";
  if (action !== "ALLOW" && action !== "DENY") {
    return {
      sent: null,
      condition: condition(ap, "False", "UnsupportedValue", `ztunnel does not support the ${action} action`),
    };
  }
  const scope: L4Scope = spec.selector ? "WORKLOAD_SELECTOR" : ns === rootNamespace ? "GLOBAL" : "NAMESPACE";
  const flagged = new Set<string>();
  const groups: L4Group[] = [];
  for (const rule of spec.rules ?? []) {
    const g = translateRule(rule, action, ns, flagged);
    if (g) groups.push(g);
  }
  const sent: L4Policy = { name: ap.metadata.name, namespace: ns, scope, action, groups, dryRun };
  if (flagged.size === 0) return { sent, condition: condition(ap, "True", "Accepted", "attached to ztunnel") };
  const tail = action === "ALLOW" ? ALLOW_OMITTED : hasEffectiveGroups(groups) ? DENY_MIXED : DENY_NO_EFFECT;
  const found = [...flagged].sort().join(", ");
  return {
    sent,
    condition: condition(ap, "True", "UnsupportedValue", `${HTTP_RULE_PREFIX}${found}${HTTP_RULE_MIDDLE}${tail}`),
  };
}

function translateRule(rule: Rule, action: "ALLOW" | "DENY", ns: string, flagged: Set<string>): L4Group | null {
  let l7 = false;
  const flag = (name: string, list: readonly string[] | undefined) => {
    if (list && list.length > 0) {
      flagged.add(name);
      l7 = true;
    }
  };
  const clauses: L4Clause[] = [];
  const to = (rule.to ?? []).map((t) => {
    const op = t.operation ?? {};
    flag("hosts", op.hosts);
    flag("notHosts", op.notHosts);
    flag("methods", op.methods);
    flag("notMethods", op.notMethods);
    flag("paths", op.paths);
    flag("notPaths", op.notPaths);
    return compact({ destinationPorts: toPorts(op.ports), notDestinationPorts: toPorts(op.notPorts) });
  });
  const from = (rule.from ?? []).map((f) => {
    const s = f.source ?? {};
    flag("remoteIpBlocks", s.remoteIpBlocks);
    flag("notRemoteIpBlocks", s.notRemoteIpBlocks);
    flag("requestPrincipals", s.requestPrincipals);
    flag("notRequestPrincipals", s.notRequestPrincipals);
    // trustDomains are neither converted nor flagged (control-plane.md §8.4).
    return compact({
      sourceIps: toAddresses(s.ipBlocks),
      notSourceIps: toAddresses(s.notIpBlocks),
      namespaces: toStringMatches(s.namespaces),
      notNamespaces: toStringMatches(s.notNamespaces),
      serviceAccounts: toServiceAccounts(s.serviceAccounts, ns),
      notServiceAccounts: toServiceAccounts(s.notServiceAccounts, ns),
      principals: toStringMatches(s.principals),
      notPrincipals: toStringMatches(s.notPrincipals),
    });
  });
  if (to.length > 0) clauses.push({ matches: to });
  if (from.length > 0) clauses.push({ matches: from });
  for (const w of rule.when ?? []) {
    if (!L4_WHEN_KEYS.has(w.key)) {
      flagged.add(w.key);
      l7 = true;
    }
    const pick = (key: string, values: readonly string[] | undefined) => (w.key === key ? values : undefined);
    clauses.push({
      matches: [
        compact({
          namespaces: toStringMatches(pick("source.namespace", w.values)),
          principals: toStringMatches(pick("source.principal", w.values)),
          sourceIps: toAddresses(pick("source.ip", w.values)),
          destinationPorts: toPorts(pick("destination.port", w.values)),
          destinationIps: toAddresses(pick("destination.ip", w.values)),
          notNamespaces: toStringMatches(pick("source.namespace", w.notValues)),
          notPrincipals: toStringMatches(pick("source.principal", w.notValues)),
          notSourceIps: toAddresses(pick("source.ip", w.notValues)),
          notDestinationPorts: toPorts(pick("destination.port", w.notValues)),
          notDestinationIps: toAddresses(pick("destination.ip", w.notValues)),
        }),
      ],
    });
  }
  // ALLOW drops a rule with any HTTP attribute whole (fail closed); DENY keeps the rest, empty matches included.
  if (action === "ALLOW" && l7) return null;
  return { rules: clauses };
}

function compact(m: L4Match): L4Match {
  const out: L4Match = {};
  for (const [k, v] of Object.entries(m) as Array<[keyof L4Match, unknown[] | undefined]>) {
    if (v && v.length > 0) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export function isEmptyMatch(m: L4Match): boolean {
  return Object.keys(m).length === 0;
}

/** Some group ztunnel can fire: no clauses (`rules: [{}]`), or every clause with a non-empty match. */
export function hasEffectiveGroups(groups: readonly L4Group[]): boolean {
  return groups.some((g) => g.rules.every((c) => c.matches.some((m) => !isEmptyMatch(m))));
}

function toStringMatches(values: readonly string[] | undefined): L4StringMatch[] | undefined {
  return values?.map((v) => {
    const m = parseStringMatch(v);
    switch (m.kind) {
      case "presence":
        return { presence: true };
      case "prefix":
        return { prefix: m.value };
      case "suffix":
        return { suffix: m.value };
      default:
        return { exact: m.value };
    }
  });
}

function toServiceAccounts(values: readonly string[] | undefined, ns: string): L4ServiceAccountMatch[] | undefined {
  return values?.map((v) => {
    const slash = v.indexOf("/");
    return slash >= 0
      ? { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) }
      : { namespace: ns, serviceAccount: v };
  });
}

/** Non-numeric or out-of-range ports are dropped silently, like istiod. */
function toPorts(values: readonly string[] | undefined): number[] | undefined {
  return values?.filter((v) => /^\d+$/.test(v) && Number(v) <= 65535).map(Number);
}

function toAddresses(values: readonly string[] | undefined): L4Address[] | undefined {
  const out: L4Address[] = [];
  for (const v of values ?? []) {
    const c = parseCidr(v);
    if (c) out.push({ address: c.address, length: c.bits });
  }
  return values ? out : undefined;
}
