// The waypoint (L7) AuthorizationPolicy engine: policies compiled once, evaluated per request in Envoy's filter
// order CUSTOM → JWT → AUDIT → DENY → ALLOW (policy.md §1.2, §1.11, §1.12).
// Input: the policies the mesh model attached to one waypoint. Policies that target a Service or ServiceEntry
// apply only to requests whose `destination.service` is that `<ns>/<name>`; all others apply waypoint-wide.

import type { AuthorizationAction, AuthorizationPolicy } from "../api/resources.js";
import { type Decision, NO_TRACE, type Phase, type PolicyRef, type TraceEntry } from "./decision.js";
import { isDryRun } from "./dry-run.js";
import { policyPrincipal } from "./identity.js";
import { type CompiledRule, compileRule, explainRule, type MatchContext, ruleMatches } from "./match.js";
import { normalizePath, type PathNormalization } from "./path.js";
import type { L7Request } from "./request.js";
import { pathKey, RuleIndex, type RuleRef } from "./rule-index.js";

export interface ExtAuthzProvider {
  /** envoyExtAuthzHttp or envoyExtAuthzGrpc; only gRPC providers apply to TCP streams. */
  kind: "http" | "grpc";
}

export interface WaypointAuthzOptions {
  trustDomain?: string;
  trustDomainAliases?: readonly string[];
  spaceDelimitedClaims?: readonly string[];
  pathNormalization?: PathNormalization;
  /** meshConfig.extensionProviders usable by CUSTOM policies, by name. */
  extAuthzProviders?: Readonly<Record<string, ExtAuthzProvider>>;
  /** PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS (default false). */
  multipleCustomProviders?: boolean;
  /**
   * Look up candidate rules by method and path (default true). false tries every rule in order: same decisions,
   * slower; tests compare the two.
   */
  ruleIndex?: boolean;
}

export interface ExtAuthzResponse {
  allowed: boolean;
  /** Status the external server answered a denial with (default 403). */
  status?: number;
}

export interface EvaluateOptions {
  /** Fill `Decision.trace` with every policy considered (slower; for `ambit check` and debugging). */
  trace?: boolean;
  /** What each external authorizer answered; a missing answer for a called provider is a server error → 403. */
  extAuthz?: Readonly<Record<string, ExtAuthzResponse>>;
}

interface CompiledPolicy {
  ref: PolicyRef;
  action: AuthorizationAction;
  dryRun: boolean;
  provider: string | undefined;
  rules: CompiledRule[];
  /** The rules as the index reports them, one per rule. */
  refs: RuleRef<CompiledPolicy>[];
  /** CUSTOM that fails closed (unknown or too many providers): evaluated as a DENY. */
  customAsDeny?: string;
  /** Decisions reused on the hot path, one per rule. */
  cached: Decision[];
}

interface Bucket {
  custom: CompiledPolicy[];
  audit: CompiledPolicy[];
  deny: CompiledPolicy[];
  allow: CompiledPolicy[];
  dryRun: CompiledPolicy[];
  /** Per-phase candidate lookup for HTTP requests without a trace; absent when `ruleIndex` is false. */
  index?: { audit: RuleIndex<CompiledPolicy>; deny: RuleIndex<CompiledPolicy>; allow: RuleIndex<CompiledPolicy> };
}

const SERVICE_KINDS = new Set(["Service", "ServiceEntry"]);

function refOf(p: AuthorizationPolicy): PolicyRef {
  const ref: PolicyRef = { namespace: p.metadata.namespace ?? "default", name: p.metadata.name };
  if (p.source) {
    ref.file = p.source.file;
    ref.line = p.source.line;
  }
  return ref;
}

/** `<ns>/<name>` of the Services/ServiceEntries a policy targets, or null when it applies waypoint-wide. */
function serviceTargets(p: AuthorizationPolicy): string[] | null {
  const refs = p.spec?.targetRefs ?? (p.spec?.targetRef ? [p.spec.targetRef] : []);
  if (refs.length === 0 || refs.some((r) => !SERVICE_KINDS.has(r.kind))) return null;
  const ns = p.metadata.namespace ?? "default";
  return refs.map((r) => `${ns}/${r.name}`);
}

function emptyBucket(): Bucket {
  return { custom: [], audit: [], deny: [], allow: [], dryRun: [] };
}

export class WaypointAuthz {
  private readonly global: Bucket;
  private readonly byService: Map<string, Bucket>;
  private readonly normalization: PathNormalization;

  private constructor(
    global: Bucket,
    byService: Map<string, Bucket>,
    private readonly options: WaypointAuthzOptions,
  ) {
    this.global = global;
    this.byService = byService;
    this.normalization = options.pathNormalization ?? "BASE";
  }

  static compile(policies: readonly AuthorizationPolicy[], options: WaypointAuthzOptions = {}): WaypointAuthz {
    const compiled: Array<{ cp: CompiledPolicy; services: string[] | null }> = [];
    for (const p of policies) {
      const action = p.spec?.action ?? "ALLOW";
      const ns = p.metadata.namespace ?? "default";
      const rules = (p.spec?.rules ?? []).map((r, i) =>
        compileRule(r, i, {
          policyNamespace: ns,
          action,
          trustDomain: options.trustDomain,
          trustDomainAliases: options.trustDomainAliases,
          spaceDelimitedClaims: options.spaceDelimitedClaims,
        }),
      );
      const cp: CompiledPolicy = {
        ref: refOf(p),
        action,
        dryRun: isDryRun(p.metadata.annotations),
        provider: p.spec?.provider?.name,
        rules,
        refs: [],
        cached: [],
      };
      cp.refs = refsOf(cp);
      compiled.push({ cp, services: serviceTargets(p) });
    }
    const global = emptyBucket();
    const byService = new Map<string, Bucket>();
    for (const { cp, services } of compiled) {
      if (services === null) add(global, cp);
    }
    for (const { cp, services } of compiled) {
      for (const s of services ?? []) {
        let b = byService.get(s);
        if (!b) {
          b = cloneBucket(global);
          byService.set(s, b);
        }
        add(b, cp);
      }
    }
    for (const b of [global, ...byService.values()]) {
      finishCustom(b, options);
      if (options.ruleIndex !== false) b.index = indexBucket(b);
    }
    return new WaypointAuthz(global, byService, options);
  }

  /** How many policies apply to requests for `service` (or waypoint-wide). */
  policyCount(service?: string): number {
    const b = (service !== undefined && this.byService.get(service)) || this.global;
    return b.custom.length + b.audit.length + b.deny.length + b.allow.length + b.dryRun.length;
  }

  evaluate(req: L7Request, opts: EvaluateOptions = {}): Decision {
    const trace = opts.trace === true ? ([] as TraceEntry[]) : undefined;
    const service = req.destination.service;
    const b = (service !== undefined && this.byService.get(service)) || this.global;
    const http = req.http;
    let path: string | undefined;
    let key = "";
    if (http) {
      const normalized = normalizePath(http.path, this.normalization);
      if (normalized === null) return final(false, 400, null, null, "path rejected by normalization (%00)", trace);
      path = normalized;
      key = pathKey(normalized);
    }
    const ctx: MatchContext = {
      http: http !== null,
      principal: policyPrincipal(req.source.principal),
      sourceIp: req.source.ip,
      remoteIp: req.source.remoteIp ?? req.source.ip,
      destIp: req.destination.ip,
      destPort: req.destination.port,
      method: http?.method,
      host: http?.host,
      path,
      headers: http?.headers,
      claims: req.jwt?.valid ? req.jwt.claims : undefined,
      sni: req.sni,
    };

    // CUSTOM runs before JWT validation; ext_authz is called only when a CUSTOM rule matched.
    for (const p of b.custom) {
      const provider = p.provider!;
      if (!http && this.options.extAuthzProviders?.[provider]?.kind !== "grpc") {
        trace?.push(entry("CUSTOM", p, false, null, "HTTP ext_authz provider skipped on a TCP stream"));
        continue;
      }
      const rule = matchPolicy(p, ctx, trace, "CUSTOM");
      if (rule === null) continue;
      const answer = opts.extAuthz?.[provider];
      if (answer === undefined) {
        return final(
          false,
          403,
          p.ref,
          rule,
          `ext_authz provider "${provider}" gave no answer (status on error 403)`,
          trace,
        );
      }
      if (!answer.allowed) {
        return final(false, answer.status ?? 403, p.ref, rule, `denied by ext_authz provider "${provider}"`, trace);
      }
    }

    if (req.jwt && !req.jwt.valid) {
      trace?.push({
        phase: "JWT",
        policy: null,
        dryRun: false,
        matched: true,
        rule: null,
        reason: req.jwt.error ?? "Jwt verification fails",
      });
      return final(false, 401, null, null, req.jwt.error ?? "Jwt verification fails", trace);
    }

    // The index answers "first matching rule" for HTTP; traces and TCP streams walk every policy.
    const index = http && !trace ? b.index : undefined;
    const method = http ? http.method : "";

    let audit: PolicyRef | null = null;
    if (index) audit = index.audit.first(ctx, method, key)?.policy.ref ?? null;
    else audit = firstMatch(b.audit, ctx, trace, "AUDIT")?.policy.ref ?? null;

    if (trace) for (const p of b.dryRun) matchPolicy(p, ctx, trace, phaseOf(p));

    const deny = index ? index.deny.first(ctx, method, key) : firstMatch(b.deny, ctx, trace, "DENY");
    if (deny) {
      const p = deny.policy;
      const why = p.customAsDeny ?? "RBAC: access denied";
      return trace || audit
        ? final(false, 403, p.ref, deny.rule, why, trace, audit)
        : cachedDecision(p, deny.rule, false, why);
    }

    if (b.allow.length === 0) {
      return final(true, 200, null, null, "no ALLOW policy applies", trace, audit);
    }
    const allow = index ? index.allow.first(ctx, method, key) : firstMatch(b.allow, ctx, trace, "ALLOW");
    if (allow) {
      const p = allow.policy;
      return trace || audit
        ? final(true, 200, p.ref, allow.rule, "allowed", trace, audit)
        : cachedDecision(p, allow.rule, true, "allowed");
    }
    return trace || audit ? final(false, 403, null, null, NO_ALLOW_MATCH, trace, audit) : DENIED_NO_MATCH;
  }
}

const NO_ALLOW_MATCH = "RBAC: access denied (ALLOW policies apply and none matched)";
const DENIED_NO_MATCH: Decision = Object.freeze({
  allowed: false,
  status: 403,
  policy: null,
  rule: null,
  reason: NO_ALLOW_MATCH,
  trace: NO_TRACE,
}) as Decision;

function phaseOf(p: CompiledPolicy): Phase {
  return p.action === "CUSTOM" ? "CUSTOM" : p.action;
}

function add(b: Bucket, cp: CompiledPolicy) {
  if (cp.dryRun) b.dryRun.push(cp);
  else if (cp.action === "CUSTOM") b.custom.push(cp);
  else if (cp.action === "AUDIT") b.audit.push(cp);
  else if (cp.action === "DENY") b.deny.push(cp);
  else b.allow.push(cp);
}

function cloneBucket(b: Bucket): Bucket {
  return { custom: [...b.custom], audit: [...b.audit], deny: [...b.deny], allow: [...b.allow], dryRun: [...b.dryRun] };
}

/** Unknown providers, or several providers without the flag, turn CUSTOM rules into a DENY (policy.md §1.11). */
function finishCustom(b: Bucket, o: WaypointAuthzOptions) {
  const providers = new Set(b.custom.map((p) => p.provider));
  const tooMany = providers.size > 1 && o.multipleCustomProviders !== true;
  const keep: CompiledPolicy[] = [];
  for (const p of b.custom) {
    const known = p.provider !== undefined && o.extAuthzProviders?.[p.provider] !== undefined;
    if (known && !tooMany) {
      keep.push(p);
      continue;
    }
    const why = known
      ? "several CUSTOM providers without multiple-provider support"
      : `unknown provider "${p.provider ?? ""}"`;
    const asDeny: CompiledPolicy = {
      ...p,
      customAsDeny: `RBAC: access denied (CUSTOM ${why}: fails closed)`,
      refs: [],
      cached: [],
    };
    asDeny.refs = refsOf(asDeny);
    b.deny.unshift(asDeny);
  }
  b.custom = keep;
}

function refsOf(p: CompiledPolicy): RuleRef<CompiledPolicy>[] {
  return p.rules.map((compiled, rule) => ({ policy: p, rule, compiled, action: p.action }));
}

function indexBucket(b: Bucket): Bucket["index"] {
  const flat = (list: CompiledPolicy[]) => RuleIndex.build(list.flatMap((p) => p.refs));
  return { audit: flat(b.audit), deny: flat(b.deny), allow: flat(b.allow) };
}

/** The first policy in `list` with a matching rule (every policy traced when tracing; the first otherwise). */
function firstMatch(
  list: readonly CompiledPolicy[],
  ctx: MatchContext,
  trace: TraceEntry[] | undefined,
  phase: Phase,
): RuleRef<CompiledPolicy> | undefined {
  let found: RuleRef<CompiledPolicy> | undefined;
  for (const p of list) {
    const rule = matchPolicy(p, ctx, trace, phase);
    if (rule !== null) {
      found ??= p.refs[rule];
      if (!trace || phase !== "AUDIT") return found;
    }
  }
  return found;
}

/** Index of the first matching rule, or null; appends a trace entry when tracing. */
function matchPolicy(
  p: CompiledPolicy,
  ctx: MatchContext,
  trace: TraceEntry[] | undefined,
  phase: Phase,
): number | null {
  const rules = p.rules;
  if (!trace) {
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, ctx, p.action)) return i;
    return null;
  }
  const reasons: string[] = [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const why = ruleMatches(r, ctx, p.action) ? null : explainRule(r, ctx, p.action);
    if (why === null) {
      trace.push(entry(phase, p, true, i, `rule ${i} matched${p.dryRun ? " (dry-run: not enforced)" : ""}`));
      return p.dryRun ? null : i;
    }
    reasons.push(why);
  }
  const reason = rules.length === 0 ? "no rules: matches nothing" : reasons.join("; ");
  trace.push(entry(phase, p, false, null, p.dryRun ? `${reason} (dry-run)` : reason));
  return null;
}

function entry(phase: Phase, p: CompiledPolicy, matched: boolean, rule: number | null, reason: string): TraceEntry {
  return { phase, policy: p.ref, dryRun: p.dryRun, matched, rule, reason };
}

function cachedDecision(p: CompiledPolicy, rule: number, allowed: boolean, reason: string): Decision {
  let d = p.cached[rule];
  if (!d) {
    d = Object.freeze({
      allowed,
      status: allowed ? 200 : 403,
      policy: p.ref,
      rule,
      reason,
      trace: NO_TRACE,
    }) as Decision;
    p.cached[rule] = d;
  }
  return d;
}

function final(
  allowed: boolean,
  status: number | null,
  policy: PolicyRef | null,
  rule: number | null,
  reason: string,
  trace: TraceEntry[] | undefined,
  audit: PolicyRef | null = null,
): Decision {
  return { allowed, status, policy, rule, reason, trace: trace ?? NO_TRACE, audit };
}
