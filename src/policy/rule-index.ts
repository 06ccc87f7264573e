// Which rules of one phase (AUDIT, DENY or ALLOW) an HTTP request can possibly match, looked up by its method and the
// first segment of its path, so a request that matches nothing does not run every rule of every policy.
// The index only prunes: each candidate still goes through `ruleMatches`, in policy order then rule order, and a rule
// is left out only when a positive `methods`/`paths` check in every `to` entry rules out the request (policy.md §1.4).
// Candidates whose every `from` entry lists exact principals are then skipped by one set lookup when the peer's
// principal is not among them, before any of their checks run.

import type { AuthorizationAction } from "../api/resources.js";
import { type CompiledRule, type IndexedValues, type MatchContext, ruleMatches } from "./match.js";
import { containsPathTemplate } from "./path.js";
import { parseStringMatch } from "./string-match.js";

/** One rule of one policy, as the evaluator reports it. */
export interface RuleRef<P> {
  readonly policy: P;
  readonly rule: number;
  readonly compiled: CompiledRule;
  readonly action: AuthorizationAction;
}

/** Rules (as positions in the phase's order) that may match, split by whether they depend on the path key. */
interface PathIndex {
  anyPath: Int32Array;
  byKey: Map<string, Int32Array>;
}

/** The keys a rule can match for one attribute, or null when it can match any value. */
type Need = Set<string> | null;

/** Beyond this many distinct methods, indexing by method would copy path-independent rules too often. */
const MAX_METHODS = 32;
const NONE = new Int32Array(0);

/**
 * The path key: everything before the first `/` after position 0 (`/api/v1/x` → `/api`). A path equal to a value,
 * or starting with a prefix that already contains such a `/`, has that value's key.
 */
export function pathKey(path: string): string {
  const slash = path.indexOf("/", 1);
  return slash < 0 ? path : path.slice(0, slash);
}

/** Keys a path must have to match one of `values` (same conventions as match.ts `pathTest`), or null for any. */
function pathNeed(values: readonly string[]): Need {
  const keys = new Set<string>();
  for (const v of values) {
    if (containsPathTemplate(v)) return null;
    const m = parseStringMatch(v);
    if (m.kind === "exact") keys.add(pathKey(m.value));
    else if (m.kind === "prefix" && m.value.indexOf("/", 1) > 0) keys.add(pathKey(m.value));
    else return null;
  }
  return keys;
}

/** Values an attribute must equal to match one of `values`, or null for any (wildcards are not indexed). */
function exactNeed(values: readonly string[]): Need {
  const exact = new Set<string>();
  for (const v of values) {
    const m = parseStringMatch(v);
    if (m.kind !== "exact") return null;
    exact.add(m.value);
  }
  return exact;
}

/**
 * What the rule needs of `attr`: the union over its `from` (principal) or `to` (method, path) entries; an entry
 * without a positive check on `attr` needs nothing.
 */
function ruleNeed(r: CompiledRule, attr: IndexedValues["attr"]): Need {
  const list = attr === "principal" ? r.from : r.to;
  if (list.length === 0) return null;
  const out = new Set<string>();
  for (const conj of list) {
    const check = conj.checks.find((k) => k.indexed?.attr === attr);
    if (check === undefined) return null;
    const need = attr === "path" ? pathNeed(check.indexed!.values) : exactNeed(check.indexed!.values);
    if (need === null) return null;
    for (const k of need) out.add(k);
  }
  return out;
}

function buildPathIndex(positions: readonly number[], paths: readonly Need[]): PathIndex {
  const anyPath: number[] = [];
  const byKey = new Map<string, number[]>();
  for (const pos of positions) {
    const need = paths[pos]!;
    if (need === null) {
      anyPath.push(pos);
      continue;
    }
    for (const key of need) {
      const list = byKey.get(key);
      if (list) list.push(pos);
      else byKey.set(key, [pos]);
    }
  }
  return {
    anyPath: Int32Array.from(anyPath),
    byKey: new Map([...byKey].map(([k, list]) => [k, Int32Array.from(list)])),
  };
}

export class RuleIndex<P> {
  private constructor(
    private readonly rules: readonly RuleRef<P>[],
    private readonly principals: readonly Need[],
    private readonly byMethod: Map<string, PathIndex>,
    private readonly otherMethod: PathIndex,
  ) {}

  /** `rules` in evaluation order (policy order, then rule order); dropped rules never match and are left out. */
  static build<P>(rules: readonly RuleRef<P>[]): RuleIndex<P> {
    const live = rules.filter((r) => r.compiled.dropped === undefined);
    const methods = live.map((r) => ruleNeed(r.compiled, "method"));
    const paths = live.map((r) => ruleNeed(r.compiled, "path"));
    const principals = live.map((r) => ruleNeed(r.compiled, "principal"));
    const universe = new Set<string>();
    for (const m of methods) for (const k of m ?? []) universe.add(k);
    const all = live.map((_, i) => i);
    const byMethod = new Map<string, PathIndex>();
    if (universe.size > MAX_METHODS) return new RuleIndex(live, principals, byMethod, buildPathIndex(all, paths));
    for (const method of universe) {
      const positions = all.filter((i) => methods[i] === null || methods[i]!.has(method));
      byMethod.set(method, buildPathIndex(positions, paths));
    }
    const otherMethod = buildPathIndex(
      all.filter((i) => methods[i] === null),
      paths,
    );
    return new RuleIndex(live, principals, byMethod, otherMethod);
  }

  /** The first rule, in evaluation order, that matches an HTTP request with this method and path key. */
  first(ctx: MatchContext, method: string, key: string): RuleRef<P> | undefined {
    if (this.rules.length === 0) return undefined;
    const idx = this.byMethod.get(method) ?? this.otherMethod;
    const a = idx.anyPath;
    const b = idx.byKey.get(key) ?? NONE;
    const rules = this.rules;
    const principals = this.principals;
    const principal = ctx.principal;
    // Merge the two ascending position lists so rules are tried in evaluation order.
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const pos = j >= b.length || (i < a.length && a[i]! < b[j]!) ? a[i++]! : b[j++]!;
      const need = principals[pos]!;
      if (need !== null && (principal === undefined || !need.has(principal))) continue;
      const r = rules[pos]!;
      if (ruleMatches(r.compiled, ctx, r.action)) return r;
    }
    return undefined;
  }
}
