// AuthorizationPolicy rules compiled once into matchers, with Envoy's (waypoint) field semantics.
// Boolean structure: policy.md §1.4; source fields §1.5; operation fields §1.6; `when` keys §1.7;
// missing attributes and generation errors §1.8.

import { DEFAULT_TRUST_DOMAIN } from "../api/labels.js";
import type { AuthorizationAction, ConditionClause, Operation, Rule, Source } from "../api/resources.js";
import { claimAt, claimMatches, DEFAULT_SPACE_DELIMITED, parseBracketPath } from "./claims.js";
import { type Cidr, cidrContains, parseCidr } from "./ip.js";
import { compilePathTemplate, containsPathTemplate } from "./path.js";
import { parseStringMatch, type StringMatch } from "./string-match.js";

/** Everything a matcher may read, computed once per request. Absent attributes are `undefined`. */
export interface MatchContext {
  http: boolean;
  /** Peer SPIFFE ID without the scheme. */
  principal: string | undefined;
  sourceIp: string;
  remoteIp: string;
  destIp: string;
  destPort: number;
  method: string | undefined;
  /** `:authority` as sent; host matchers lower-case it themselves. */
  host: string | undefined;
  /** Normalized path without the query. */
  path: string | undefined;
  headers: Readonly<Record<string, string | readonly string[] | undefined>> | undefined;
  /** Claims of a *validated* JWT only. */
  claims: Readonly<Record<string, unknown>> | undefined;
  sni: string | undefined;
}

export interface Check {
  /** Dotted field name for traces, e.g. `from[0].source.principals`. */
  field: string;
  /** Cannot be evaluated without HTTP (policy.md §1.8). */
  httpOnly: boolean;
  test: (c: MatchContext) => boolean;
  /**
   * On a positive `principals`/`methods`/`paths` check: it passes only when that attribute matches one of `values`
   * (principals with trust-domain aliases expanded). Read by rule-index.ts.
   */
  indexed?: IndexedValues;
}

export interface IndexedValues {
  attr: "principal" | "method" | "path";
  values: readonly string[];
}

export interface Conjunction {
  label: string;
  checks: Check[];
}

export interface CompiledRule {
  index: number;
  /** Empty = any source. */
  from: Conjunction[];
  /** Empty = any operation. */
  to: Conjunction[];
  when: Check[];
  hasHttpOnly: boolean;
  /** Set when the builder would drop the whole rule (it then never matches). */
  dropped: string | undefined;
}

export interface CompileOptions {
  policyNamespace: string;
  action: AuthorizationAction;
  /** Mesh trust domain; `cluster.local` in policies means this one and its aliases (policy.md §1.5). */
  trustDomain?: string;
  trustDomainAliases?: readonly string[];
  spaceDelimitedClaims?: readonly string[];
}

type StrTest = (s: string | undefined) => boolean;

/** One OR-ed list of string values as a single test; `nonEmpty` turns `*` into Envoy's `.+`. */
export function stringSetTest(values: readonly string[], opts: { lower?: boolean; nonEmpty?: boolean } = {}): StrTest {
  const matches: StringMatch[] = values.map((v) => parseStringMatch(opts.lower ? v.toLowerCase() : v));
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  let presence = false;
  for (const m of matches) {
    if (m.kind === "exact") exact.add(m.value);
    else if (m.kind === "prefix") prefixes.push(m.value);
    else if (m.kind === "suffix") suffixes.push(m.value);
    else presence = true;
  }
  const nonEmpty = opts.nonEmpty === true;
  return (s) => {
    if (s === undefined) return false;
    if (presence && (!nonEmpty || s.length > 0)) return true;
    if (exact.has(s)) return true;
    for (const p of prefixes) if (s.startsWith(p)) return true;
    for (const x of suffixes) if (s.endsWith(x)) return true;
    return false;
  };
}

class CompileError extends Error {}

function cidrs(values: readonly string[]): Cidr[] {
  return values.map((v) => {
    const c = parseCidr(v);
    if (!c) throw new CompileError(`invalid IP address or CIDR "${v}"`);
    return c;
  });
}

function ports(values: readonly string[]): Set<number> {
  return new Set(
    values.map((v) => {
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new CompileError(`invalid port "${v}"`);
      return Number(v);
    }),
  );
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Values in the local trust domain (or literally `cluster.local`) stand for the trust domain and every alias. */
function expandTrustDomain(td: string, o: CompileOptions): string[] {
  const local = o.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const all = [...new Set([local, ...(o.trustDomainAliases ?? [])])];
  if (all.length === 1 && all[0] === DEFAULT_TRUST_DOMAIN) return [td];
  return td === DEFAULT_TRUST_DOMAIN || all.includes(td) ? all : [td];
}

function expandPrincipals(values: readonly string[], o: CompileOptions): string[] {
  const out: string[] = [];
  for (const v of values) {
    const slash = v.indexOf("/");
    if (v.startsWith("*") || slash <= 0) {
      out.push(v);
      continue;
    }
    for (const td of expandTrustDomain(v.slice(0, slash), o)) out.push(td + v.slice(slash));
  }
  return out;
}

// ---- attribute tests, shared by source fields and `when` keys ----

function principalTest(values: readonly string[], o: CompileOptions): (c: MatchContext) => boolean {
  const t = stringSetTest(expandPrincipals(values, o), { nonEmpty: true });
  return (c) => t(c.principal);
}

// Envoy: the regex ".*\/ns/<v>/.*" with every "*" a wildcard (policy.md §1.5).
function namespaceTest(values: readonly string[]): (c: MatchContext) => boolean {
  const plain = values.filter((v) => !v.includes("*")).map((v) => `/ns/${v}/`);
  const wild = values
    .filter((v) => v.includes("*"))
    .map((v) => new RegExp(`^.*/ns/${escapeRegex(v).replace(/\\\*/g, ".*")}/.*$`));
  return (c) => {
    const p = c.principal;
    if (p === undefined) return false;
    for (const s of plain) if (p.includes(s)) return true;
    for (const r of wild) if (r.test(p)) return true;
    return false;
  };
}

function serviceAccountTest(values: readonly string[], o: CompileOptions): (c: MatchContext) => boolean {
  const res = values.map((v) => {
    const slash = v.indexOf("/");
    const ns = slash >= 0 ? v.slice(0, slash) : o.policyNamespace;
    const sa = slash >= 0 ? v.slice(slash + 1) : v;
    return new RegExp(`^spiffe://.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?$`);
  });
  return (c) => {
    if (c.principal === undefined) return false;
    const full = `spiffe://${c.principal}`;
    for (const r of res) if (r.test(full)) return true;
    return false;
  };
}

function trustDomainTest(values: readonly string[], o: CompileOptions): (c: MatchContext) => boolean {
  const expanded = values.flatMap((v) => (v.includes("*") ? [v] : expandTrustDomain(v, o)));
  const t = stringSetTest(expanded);
  return (c) => {
    const p = c.principal;
    if (p === undefined) return false;
    const slash = p.indexOf("/");
    return slash > 0 && t(p.slice(0, slash));
  };
}

function ipTest(values: readonly string[], pick: (c: MatchContext) => string): (c: MatchContext) => boolean {
  const list = cidrs(values);
  return (c) => {
    const ip = pick(c);
    for (const b of list) if (cidrContains(b, ip)) return true;
    return false;
  };
}

function portTest(values: readonly string[]): (c: MatchContext) => boolean {
  const set = ports(values);
  return (c) => set.has(c.destPort);
}

const ANY: StrTest = (s) => s !== undefined && s.length > 0;

/** `iss/sub` split at the last `/`, each half matched against its claim (policy.md §1.7). */
function requestPrincipalTest(values: readonly string[]): (c: MatchContext) => boolean {
  const exact =
    (v: string): StrTest =>
    (s) =>
      s === v;
  const pairs = values.map((value): [StrTest, StrTest] => {
    const idx = value.lastIndexOf("/");
    const found = idx >= 0;
    const iss = found ? value.slice(0, idx) : value;
    const sub = found ? value.slice(idx + 1) : "";
    if (value === "*") return [ANY, ANY];
    if (value.startsWith("*")) {
      if (!found) {
        const suffix = value.slice(1);
        return [ANY, (s) => typeof s === "string" && s.endsWith(suffix)];
      }
      const issSuffix = iss.slice(1);
      return [iss === "*" ? ANY : (s) => typeof s === "string" && s.endsWith(issSuffix), exact(sub)];
    }
    if (value.endsWith("*")) {
      if (!found) {
        const prefix = value.slice(0, -1);
        return [(s) => typeof s === "string" && s.startsWith(prefix), ANY];
      }
      const subPrefix = sub.slice(0, -1);
      return [exact(iss), sub === "*" ? ANY : (s) => typeof s === "string" && s.startsWith(subPrefix)];
    }
    return [exact(iss), exact(sub)];
  });
  return (c) => {
    const claims = c.claims;
    if (claims === undefined) return false;
    for (const [iss, sub] of pairs) {
      if (claimMatches(claims.iss, iss) && claimMatches(claims.sub, sub)) return true;
    }
    return false;
  };
}

function claimTest(path: readonly string[], values: readonly string[], spaceDelimited: ReadonlySet<string>) {
  const t = stringSetTest(values, { nonEmpty: true });
  return (c: MatchContext) => c.claims !== undefined && claimMatches(claimAt(c.claims, path, spaceDelimited), t);
}

function headerValue(c: MatchContext, name: string): string | undefined {
  const v = c.headers?.[name];
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : v.join(",");
}

function headerTest(name: string, values: readonly string[]): (c: MatchContext) => boolean {
  const t = stringSetTest(values);
  return (c) => t(headerValue(c, name));
}

function pathTest(values: readonly string[]): (c: MatchContext) => boolean {
  const templates = values.filter(containsPathTemplate).map(compilePathTemplate);
  const t = stringSetTest(
    values.filter((v) => !containsPathTemplate(v)),
    { nonEmpty: true },
  );
  return (c) => {
    if (t(c.path)) return true;
    if (c.path === undefined) return false;
    for (const r of templates) if (r.test(c.path)) return true;
    return false;
  };
}

// ---- rule compilation ----

interface FieldSpec {
  field: string;
  httpOnly: boolean;
  build: () => (c: MatchContext) => boolean;
  indexed?: IndexedValues;
}

class RuleBuilder {
  dropped: string | undefined;
  hasHttpOnly = false;

  constructor(private readonly o: CompileOptions) {}

  /** Adds a positive and a negative check; a generation error drops the rule (ALLOW) or only the field (others). */
  pair(
    out: Check[],
    field: string,
    notField: string,
    values: readonly string[] | undefined,
    notValues: readonly string[] | undefined,
    httpOnly: boolean,
    make: (v: readonly string[]) => (c: MatchContext) => boolean,
    index?: (v: readonly string[]) => IndexedValues,
  ) {
    if (values && values.length > 0) {
      const indexed = index?.(values);
      this.add(out, { field, httpOnly, build: () => make(values), indexed });
    }
    if (notValues && notValues.length > 0) {
      this.add(out, {
        field: notField,
        httpOnly,
        build: () => {
          const t = make(notValues);
          return (c) => !t(c);
        },
      });
    }
  }

  add(out: Check[], spec: FieldSpec) {
    if (spec.httpOnly) this.hasHttpOnly = true;
    try {
      const check: Check = { field: spec.field, httpOnly: spec.httpOnly, test: spec.build() };
      if (spec.indexed) check.indexed = spec.indexed;
      out.push(check);
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      if (this.o.action === "ALLOW") this.dropped ??= `${spec.field}: ${e.message}`;
    }
  }

  source(s: Source, label: string): Check[] {
    const out: Check[] = [];
    const o = this.o;
    const f = (n: string) => `${label}.${n}`;
    this.pair(
      out,
      f("principals"),
      f("notPrincipals"),
      s.principals,
      s.notPrincipals,
      false,
      (v) => principalTest(v, o),
      (v) => ({ attr: "principal", values: expandPrincipals(v, o) }),
    );
    this.pair(
      out,
      f("requestPrincipals"),
      f("notRequestPrincipals"),
      s.requestPrincipals,
      s.notRequestPrincipals,
      true,
      requestPrincipalTest,
    );
    this.pair(out, f("namespaces"), f("notNamespaces"), s.namespaces, s.notNamespaces, false, namespaceTest);
    this.pair(out, f("serviceAccounts"), f("notServiceAccounts"), s.serviceAccounts, s.notServiceAccounts, false, (v) =>
      serviceAccountTest(v, o),
    );
    this.pair(out, f("trustDomains"), f("notTrustDomains"), s.trustDomains, s.notTrustDomains, false, (v) =>
      trustDomainTest(v, o),
    );
    this.pair(out, f("ipBlocks"), f("notIpBlocks"), s.ipBlocks, s.notIpBlocks, false, (v) =>
      ipTest(v, (c) => c.sourceIp),
    );
    this.pair(out, f("remoteIpBlocks"), f("notRemoteIpBlocks"), s.remoteIpBlocks, s.notRemoteIpBlocks, false, (v) =>
      ipTest(v, (c) => c.remoteIp),
    );
    return out;
  }

  operation(op: Operation, label: string): Check[] {
    const out: Check[] = [];
    const f = (n: string) => `${label}.${n}`;
    this.pair(out, f("hosts"), f("notHosts"), op.hosts, op.notHosts, true, (v) => {
      const t = stringSetTest(v, { lower: true });
      return (c) => t(c.host?.toLowerCase());
    });
    this.pair(out, f("ports"), f("notPorts"), op.ports, op.notPorts, false, portTest);
    this.pair(
      out,
      f("methods"),
      f("notMethods"),
      op.methods,
      op.notMethods,
      true,
      (v) => {
        const t = stringSetTest(v);
        return (c) => t(c.method);
      },
      (values) => ({ attr: "method", values }),
    );
    this.pair(out, f("paths"), f("notPaths"), op.paths, op.notPaths, true, pathTest, (values) => ({
      attr: "path",
      values,
    }));
    return out;
  }

  condition(w: ConditionClause, label: string): Check[] {
    const out: Check[] = [];
    const key = w.key;
    const o = this.o;
    const f = `${label}(${key})`;
    const add = (httpOnly: boolean, make: (v: readonly string[]) => (c: MatchContext) => boolean) =>
      this.pair(out, `${f}.values`, `${f}.notValues`, w.values, w.notValues, httpOnly, make);
    const spaceDelimited = new Set([...DEFAULT_SPACE_DELIMITED, ...(o.spaceDelimitedClaims ?? [])]);
    if (key.startsWith("request.headers")) {
      const path = parseBracketPath(key.slice("request.headers".length));
      if (!path || path.length !== 1) return this.unknown(key);
      const name = path[0]!.toLowerCase();
      add(true, (v) => headerTest(name, v));
      return out;
    }
    if (key.startsWith("request.auth.claims")) {
      const path = parseBracketPath(key.slice("request.auth.claims".length));
      if (!path) return this.unknown(key);
      add(true, (v) => claimTest(path, v, spaceDelimited));
      return out;
    }
    if (key.startsWith("experimental.envoy.filters.")) {
      // Envoy filter metadata is not part of Ambit's request model: the attribute is always absent.
      add(false, () => () => false);
      return out;
    }
    switch (key) {
      case "source.ip":
        add(false, (v) => ipTest(v, (c) => c.sourceIp));
        break;
      case "remote.ip":
        add(false, (v) => ipTest(v, (c) => c.remoteIp));
        break;
      case "source.namespace":
        add(false, namespaceTest);
        break;
      case "source.principal":
        add(false, (v) => principalTest(v, o));
        break;
      case "source.serviceAccount":
        add(false, (v) => serviceAccountTest(v, o));
        break;
      case "source.trustDomain":
        add(false, (v) => trustDomainTest(v, o));
        break;
      case "request.auth.principal":
        add(true, requestPrincipalTest);
        break;
      case "request.auth.audiences":
        add(true, (v) => claimTest(["aud"], v, spaceDelimited));
        break;
      case "request.auth.presenter":
        add(true, (v) => claimTest(["azp"], v, spaceDelimited));
        break;
      case "destination.ip":
        add(false, (v) => ipTest(v, (c) => c.destIp));
        break;
      case "destination.port":
        add(false, portTest);
        break;
      case "connection.sni": {
        add(false, (v) => {
          const t = stringSetTest(v);
          return (c) => t(c.sni);
        });
        break;
      }
      default:
        return this.unknown(key);
    }
    return out;
  }

  private unknown(key: string): Check[] {
    this.dropped ??= `unknown when key "${key}"`;
    return [];
  }
}

export function compileRule(rule: Rule, index: number, o: CompileOptions): CompiledRule {
  const b = new RuleBuilder(o);
  const from = (rule.from ?? []).map((f, i) => {
    const label = `from[${i}].source`;
    return { label, checks: b.source(f.source ?? {}, label) };
  });
  const to = (rule.to ?? []).map((t, i) => {
    const label = `to[${i}].operation`;
    return { label, checks: b.operation(t.operation ?? {}, label) };
  });
  const when = (rule.when ?? []).flatMap((w, i) => b.condition(w, `when[${i}]`));
  return { index, from, to, when, hasHttpOnly: b.hasHttpOnly, dropped: b.dropped };
}

// ---- evaluation ----

function checksPass(checks: readonly Check[], c: MatchContext): boolean {
  const http = c.http;
  for (let i = 0; i < checks.length; i++) {
    const k = checks[i]!;
    if ((http || !k.httpOnly) && !k.test(c)) return false;
  }
  return true;
}

function anyPasses(list: readonly Conjunction[], c: MatchContext): boolean {
  if (list.length === 0) return true;
  for (let i = 0; i < list.length; i++) if (checksPass(list[i]!.checks, c)) return true;
  return false;
}

/**
 * Does the rule match? Without HTTP, an ALLOW rule with any HTTP-only field is dropped whole, while for the other
 * actions only those fields are ignored, which widens the rule (policy.md §1.8).
 */
export function ruleMatches(r: CompiledRule, c: MatchContext, action: AuthorizationAction): boolean {
  if (r.dropped !== undefined) return false;
  if (!c.http && r.hasHttpOnly && action === "ALLOW") return false;
  return anyPasses(r.from, c) && anyPasses(r.to, c) && checksPass(r.when, c);
}

function firstFailure(checks: readonly Check[], c: MatchContext): string | undefined {
  for (const k of checks) if ((c.http || !k.httpOnly) && !k.test(c)) return k.field;
  return undefined;
}

/** Why the rule did not match, or null when it matched. Slow path for traces. */
export function explainRule(r: CompiledRule, c: MatchContext, action: AuthorizationAction): string | null {
  if (r.dropped !== undefined) return `rule ${r.index} dropped: ${r.dropped}`;
  if (!c.http && r.hasHttpOnly && action === "ALLOW") return `rule ${r.index} dropped: HTTP-only field on a TCP stream`;
  for (const [list, what] of [
    [r.from, "from"],
    [r.to, "to"],
  ] as const) {
    if (anyPasses(list, c)) continue;
    const fails = list.map((x) => firstFailure(x.checks, c) ?? x.label);
    return `rule ${r.index}: ${fails.join(", ")} did not match${list.length > 1 ? ` (no ${what} matched)` : ""}`;
  }
  const w = firstFailure(r.when, c);
  return w === undefined ? null : `rule ${r.index}: ${w} did not match`;
}
