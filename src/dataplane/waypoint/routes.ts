// HTTPRoute (GAMMA: parentRefs to a Service) compiled into an ordered match table per service port. Matching
// follows Gateway API precedence: Exact path, then the longest PathPrefix, then method, then the most header
// matches, then the most query matches; ties go to the oldest route, then by namespace/name, then rule order.
// Pure: the router asks `RouteTable.match` and gets the chosen rule.

import type { HTTPRoute } from "../../api/resources.js";
import { AmbitError } from "../../errors.js";
import { type HeaderModifier, parseHeaderModifier } from "./headers.js";

export interface BackendRef {
  /** `<namespace>/<name>` of the Service the backend points at. */
  service: string;
  /** Service port; undefined means "the port the request came in on". */
  port: number | undefined;
  weight: number;
  requestHeaders: HeaderModifier | undefined;
  responseHeaders: HeaderModifier | undefined;
}

export interface RetryPolicy {
  /** Retries after the first try. */
  attempts: number;
  /** Response codes that are retried (on top of connect failures and resets). */
  codes: readonly number[];
  backoffMs: number;
}

export interface RouteRule {
  /** `<ns>/<route name>.<rule index>`, Envoy's route name in access logs. */
  name: string;
  backends: BackendRef[];
  requestHeaders: HeaderModifier | undefined;
  responseHeaders: HeaderModifier | undefined;
  /** `timeouts.request` in ms; 0 = none. */
  timeoutMs: number;
  /** `timeouts.backendRequest` in ms (per try); 0 = none. */
  perTryTimeoutMs: number;
  /** From the rule's `retry` field; undefined = Istio's default policy. */
  retry: RetryPolicy | undefined;
}

export interface RouteRequest {
  method: string;
  /** Path with the query string. */
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

type PathMatch = { kind: "Exact" | "PathPrefix"; value: string } | { kind: "RegularExpression"; re: RegExp };

interface CompiledMatch {
  path: PathMatch;
  method: string | undefined;
  headers: Array<{ name: string; test: (v: string) => boolean }>;
  query: Array<{ name: string; test: (v: string) => boolean }>;
  rule: RouteRule;
  /** Precedence key, compared left to right, larger first. */
  rank: number[];
}

const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

/** Gateway API duration (`10s`, `1m30s`, `500ms`) in ms. */
export function parseDuration(text: string, where: string): number {
  if (!DURATION.test(text)) throw invalid(`${where}: "${text}" is not a Gateway API duration`);
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === "h" ? n * 3_600_000 : m[2] === "m" ? n * 60_000 : m[2] === "s" ? n * 1000 : n;
  }
  return ms;
}

function invalid(message: string): AmbitError {
  return new AmbitError("AMBIT_WAYPOINT_CONFIG", message);
}

function regex(source: string, where: string): RegExp {
  try {
    // Envoy uses RE2 full-match semantics.
    return new RegExp(`^(?:${source})$`);
  } catch (e) {
    throw invalid(`${where}: invalid regular expression "${source}": ${(e as Error).message}`);
  }
}

function valueTest(m: Record<string, unknown>, where: string): (v: string) => boolean {
  const value = String(m.value ?? "");
  if ((m.type ?? "Exact") === "RegularExpression") {
    const re = regex(value, where);
    return (v) => re.test(v);
  }
  return (v) => v === value;
}

/** Element-wise prefix: `/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`. */
function prefixMatches(prefix: string, path: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (p === "/") return true;
  return path === p || (path.startsWith(p) && path[p.length] === "/");
}

function compileRule(route: HTTPRoute, index: number, raw: Record<string, unknown>): RouteRule {
  const ns = route.metadata.namespace ?? "default";
  const where = `HTTPRoute ${ns}/${route.metadata.name} rule ${index}`;
  const filters = (raw.filters as Array<Record<string, unknown>> | undefined) ?? [];
  const backends = ((raw.backendRefs as Array<Record<string, unknown>> | undefined) ?? []).map((b, i) => {
    const kind = (b.kind as string | undefined) ?? "Service";
    if (kind !== "Service" && kind !== "ServiceEntry") {
      throw invalid(`${where}: backendRefs[${i}] kind ${kind} is not supported`);
    }
    if (typeof b.name !== "string" || b.name === "") throw invalid(`${where}: backendRefs[${i}] has no name`);
    const weight = b.weight === undefined ? 1 : Number(b.weight);
    if (!Number.isInteger(weight) || weight < 0) throw invalid(`${where}: backendRefs[${i}] weight ${b.weight}`);
    const bf = (b.filters as Array<Record<string, unknown>> | undefined) ?? [];
    return {
      service: `${(b.namespace as string | undefined) ?? ns}/${b.name}`,
      port: b.port === undefined ? undefined : Number(b.port),
      weight,
      requestHeaders: modifierOf(bf, "RequestHeaderModifier", where),
      responseHeaders: modifierOf(bf, "ResponseHeaderModifier", where),
    };
  });
  const timeouts = (raw.timeouts as Record<string, string> | undefined) ?? {};
  const retryRaw = raw.retry as Record<string, unknown> | undefined;
  return {
    name: `${ns}/${route.metadata.name}.${index}`,
    backends,
    requestHeaders: modifierOf(filters, "RequestHeaderModifier", where),
    responseHeaders: modifierOf(filters, "ResponseHeaderModifier", where),
    timeoutMs: timeouts.request ? parseDuration(timeouts.request, `${where} timeouts.request`) : 0,
    perTryTimeoutMs: timeouts.backendRequest
      ? parseDuration(timeouts.backendRequest, `${where} timeouts.backendRequest`)
      : 0,
    retry: retryRaw
      ? {
          attempts: Number(retryRaw.attempts ?? 0),
          codes: ((retryRaw.codes as unknown[] | undefined) ?? []).map(Number),
          backoffMs: retryRaw.backoff ? parseDuration(String(retryRaw.backoff), `${where} retry.backoff`) : 25,
        }
      : undefined,
  };
}

function modifierOf(
  filters: Array<Record<string, unknown>>,
  type: "RequestHeaderModifier" | "ResponseHeaderModifier",
  where: string,
): HeaderModifier | undefined {
  const key = type === "RequestHeaderModifier" ? "requestHeaderModifier" : "responseHeaderModifier";
  const f = filters.find((x) => x.type === type);
  return f ? parseHeaderModifier(f[key] as Record<string, unknown> | undefined, `${where} ${type}`) : undefined;
}

function compileMatch(raw: Record<string, unknown>, rule: RouteRule, where: string, order: number[]): CompiledMatch {
  const p = (raw.path as Record<string, unknown> | undefined) ?? { type: "PathPrefix", value: "/" };
  const type = (p.type as string | undefined) ?? "PathPrefix";
  const value = String(p.value ?? "/");
  let path: PathMatch;
  let pathRank: number[];
  if (type === "Exact" || type === "PathPrefix") {
    if (!value.startsWith("/")) throw invalid(`${where}: path "${value}" must start with /`);
    path = { kind: type, value };
    pathRank = [type === "Exact" ? 2 : 1, value.length];
  } else if (type === "RegularExpression") {
    path = { kind: type, re: regex(value, where) };
    pathRank = [0, value.length];
  } else {
    throw invalid(`${where}: path type ${type} is not supported`);
  }
  const headers = ((raw.headers as Array<Record<string, unknown>> | undefined) ?? []).map((h) => ({
    name: String(h.name).toLowerCase(),
    test: valueTest(h, where),
  }));
  const query = ((raw.queryParams as Array<Record<string, unknown>> | undefined) ?? []).map((q) => ({
    name: String(q.name),
    test: valueTest(q, where),
  }));
  const method = raw.method === undefined ? undefined : String(raw.method);
  // Later tie-breaks (route age, name, rule and match order) are negated so "larger first" keeps them ascending.
  const rank = [...pathRank, method ? 1 : 0, headers.length, query.length, ...order.map((o) => -o)];
  return { path, method, headers, query, rule, rank };
}

function headerValue(h: RouteRequest["headers"], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(",") : v;
}

function matches(m: CompiledMatch, req: RouteRequest, pathOnly: string, query: URLSearchParams | undefined): boolean {
  if (m.method !== undefined && m.method !== req.method) return false;
  const p = m.path;
  if (p.kind === "RegularExpression") {
    if (!p.re.test(pathOnly)) return false;
  } else if (p.kind === "Exact" ? pathOnly !== p.value : !prefixMatches(p.value, pathOnly)) {
    return false;
  }
  for (const h of m.headers) {
    const v = headerValue(req.headers, h.name);
    if (v === undefined || !h.test(v)) return false;
  }
  for (const q of m.query) {
    const v = query?.get(q.name);
    if (v === null || v === undefined || !q.test(v)) return false;
  }
  return true;
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function parentMatches(route: HTTPRoute, service: { namespace: string; name: string }, port: number): boolean {
  const ns = route.metadata.namespace ?? "default";
  return (route.spec?.parentRefs ?? []).some(
    (p) =>
      (p.kind ?? "Gateway") === "Service" &&
      (p.group ?? "") === "" &&
      p.name === service.name &&
      (p.namespace ?? ns) === service.namespace &&
      (p.port === undefined || p.port === port),
  );
}

/** The routes of one service port, most specific match first. */
export class RouteTable {
  private constructor(private readonly table: CompiledMatch[]) {}

  static compile(routes: readonly HTTPRoute[], service: { namespace: string; name: string }, port: number): RouteTable {
    const ordered = [...routes].sort(
      (a, b) =>
        Date.parse(a.metadata.creationTimestamp ?? "") - Date.parse(b.metadata.creationTimestamp ?? "") ||
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
    );
    const table: CompiledMatch[] = [];
    ordered.forEach((route, ri) => {
      if (!parentMatches(route, service, port)) return;
      (route.spec?.rules ?? []).forEach((raw, i) => {
        const rule = compileRule(route, i, raw);
        const where = `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} rule ${i}`;
        const ms = (raw.matches as Array<Record<string, unknown>> | undefined) ?? [{}];
        (ms.length === 0 ? [{}] : ms).forEach((m, mi) => {
          table.push(compileMatch(m, rule, where, [ri, i, mi]));
        });
      });
    });
    table.sort((a, b) => compareRank(a.rank, b.rank));
    return new RouteTable(table);
  }

  get empty(): boolean {
    return this.table.length === 0;
  }

  /** The rule of the most specific matching route, or undefined (the service's default route applies). */
  match(req: RouteRequest): RouteRule | undefined {
    if (this.table.length === 0) return undefined;
    const q = req.path.indexOf("?");
    const pathOnly = q < 0 ? req.path : req.path.slice(0, q);
    const query = q < 0 ? undefined : new URLSearchParams(req.path.slice(q + 1));
    for (const m of this.table) if (matches(m, req, pathOnly, query)) return m.rule;
    return undefined;
  }
}
