// ztunnel's L4 decision over translated policies (control-plane.md §8.5, policy.md §1.3, data-plane.md §5):
// enforced DENY match → deny; no enforced ALLOW → allow; an ALLOW match → allow; otherwise deny. Dry-run only traces.

import { type Decision, NO_TRACE, type PolicyRef, type TraceEntry } from "./decision.js";
import { parseIdentity, policyPrincipal } from "./identity.js";
import { cidrContains, parseCidr } from "./ip.js";
import type { L4Connection } from "./request.js";
import type { L4Address, L4Group, L4Match, L4Policy, L4StringMatch } from "./ztunnel-policy.js";

interface ConnContext {
  principal: string | undefined;
  namespace: string | undefined;
  serviceAccount: string | undefined;
  sourceIp: string;
  destIp: string;
  destPort: number;
}

type Test = (c: ConnContext) => boolean;

interface CompiledL4 {
  policy: L4Policy;
  ref: PolicyRef;
  /** One test per group; a policy with no groups matches nothing. */
  groups: Test[];
}

function strTest(m: L4StringMatch): (s: string | undefined) => boolean {
  if ("exact" in m) return (s) => s === m.exact;
  if ("prefix" in m) return (s) => typeof s === "string" && s.startsWith(m.prefix);
  if ("suffix" in m) return (s) => typeof s === "string" && s.endsWith(m.suffix);
  return (s) => s !== undefined;
}

function anyStr(list: readonly L4StringMatch[], pick: (c: ConnContext) => string | undefined): Test {
  const tests = list.map(strTest);
  return (c) => {
    const v = pick(c);
    for (const t of tests) if (t(v)) return true;
    return false;
  };
}

function anyAddr(list: readonly L4Address[], pick: (c: ConnContext) => string): Test {
  const cidrs = list.flatMap((a) => {
    const c = parseCidr(`${a.address}/${a.length}`);
    return c ? [c] : [];
  });
  return (c) => {
    const ip = pick(c);
    for (const b of cidrs) if (cidrContains(b, ip)) return true;
    return false;
  };
}

function compileMatch(m: L4Match): Test {
  const tests: Test[] = [];
  const both = (pos: Test | undefined, neg: Test | undefined) => {
    if (pos) tests.push(pos);
    if (neg) tests.push((c) => !neg(c));
  };
  const str = (l: L4StringMatch[] | undefined, pick: (c: ConnContext) => string | undefined) =>
    l && l.length > 0 ? anyStr(l, pick) : undefined;
  const addr = (l: L4Address[] | undefined, pick: (c: ConnContext) => string) =>
    l && l.length > 0 ? anyAddr(l, pick) : undefined;
  const sa = (l: L4Match["serviceAccounts"]): Test | undefined =>
    l && l.length > 0
      ? (c) => l.some((x) => x.namespace === c.namespace && x.serviceAccount === c.serviceAccount)
      : undefined;
  const port = (l: number[] | undefined): Test | undefined =>
    l && l.length > 0 ? (c) => l.includes(c.destPort) : undefined;
  both(
    str(m.namespaces, (c) => c.namespace),
    str(m.notNamespaces, (c) => c.namespace),
  );
  both(sa(m.serviceAccounts), sa(m.notServiceAccounts));
  both(
    str(m.principals, (c) => c.principal),
    str(m.notPrincipals, (c) => c.principal),
  );
  both(
    addr(m.sourceIps, (c) => c.sourceIp),
    addr(m.notSourceIps, (c) => c.sourceIp),
  );
  both(
    addr(m.destinationIps, (c) => c.destIp),
    addr(m.notDestinationIps, (c) => c.destIp),
  );
  both(port(m.destinationPorts), port(m.notDestinationPorts));
  return (c) => tests.every((t) => t(c));
}

function compileGroup(g: L4Group): Test {
  const clauses = g.rules.map((clause) => {
    if (clause.matches.length === 0) return () => true;
    // An empty match is skipped: it matches nothing.
    const live = clause.matches.filter((m) => Object.keys(m).length > 0).map(compileMatch);
    return (c: ConnContext) => live.some((t) => t(c));
  });
  return (c) => clauses.every((t) => t(c));
}

export class ZtunnelAuthz {
  private constructor(
    private readonly global: CompiledL4[],
    private readonly byNamespace: Map<string, CompiledL4[]>,
    private readonly byName: Map<string, CompiledL4>,
  ) {}

  static build(policies: readonly L4Policy[]): ZtunnelAuthz {
    const global: CompiledL4[] = [];
    const byNamespace = new Map<string, CompiledL4[]>();
    const byName = new Map<string, CompiledL4>();
    for (const policy of policies) {
      const c: CompiledL4 = {
        policy,
        ref: { namespace: policy.namespace, name: policy.name },
        groups: policy.groups.map(compileGroup),
      };
      if (policy.scope === "GLOBAL") global.push(c);
      else if (policy.scope === "NAMESPACE") {
        const list = byNamespace.get(policy.namespace) ?? [];
        list.push(c);
        byNamespace.set(policy.namespace, list);
      } else byName.set(`${policy.namespace}/${policy.name}`, c);
    }
    return new ZtunnelAuthz(global, byNamespace, byName);
  }

  evaluate(conn: L4Connection, opts: { trace?: boolean } = {}): Decision {
    const trace = opts.trace === true ? ([] as TraceEntry[]) : undefined;
    const principal = policyPrincipal(conn.source.principal);
    const id = parseIdentity(principal);
    const ctx: ConnContext = {
      principal,
      namespace: id?.namespace,
      serviceAccount: id?.serviceAccount,
      sourceIp: conn.source.ip,
      destIp: conn.destination.ip,
      destPort: conn.destination.port,
    };
    const selected: CompiledL4[] = [...(this.byNamespace.get(conn.destination.namespace) ?? []), ...this.global];
    for (const key of conn.destination.policies ?? []) {
      const p = this.byName.get(key);
      if (p) selected.push(p);
    }
    const allows: CompiledL4[] = [];
    for (const p of selected) {
      if (p.policy.action === "ALLOW") {
        if (!p.policy.dryRun) allows.push(p);
        else if (trace) matchL4(p, ctx, trace);
        continue;
      }
      const group = matchL4(p, ctx, trace);
      if (group !== null && !p.policy.dryRun) {
        return decision(false, p.ref, group, `ExplicitlyDenied(${p.ref.namespace}, ${p.ref.name})`, trace);
      }
    }
    if (allows.length === 0) return decision(true, null, null, "no ALLOW policy applies", trace);
    for (const p of allows) {
      const group = matchL4(p, ctx, trace);
      if (group !== null) return decision(true, p.ref, group, "allowed", trace);
    }
    return decision(false, null, null, "NotAllowed", trace);
  }
}

function matchL4(p: CompiledL4, c: ConnContext, trace: TraceEntry[] | undefined): number | null {
  let hit: number | null = null;
  for (let i = 0; i < p.groups.length; i++) {
    if (p.groups[i]!(c)) {
      hit = i;
      break;
    }
  }
  if (trace) {
    const reason =
      hit !== null
        ? `rule ${hit} matched${p.policy.dryRun ? " (dry-run: not enforced)" : ""}`
        : p.groups.length === 0
          ? "no rules: matches nothing"
          : "no rule matched";
    trace.push({
      phase: p.policy.action,
      policy: p.ref,
      dryRun: p.policy.dryRun,
      matched: hit !== null,
      rule: hit,
      reason,
    });
  }
  return hit;
}

function decision(
  allowed: boolean,
  policy: PolicyRef | null,
  rule: number | null,
  reason: string,
  trace: TraceEntry[] | undefined,
): Decision {
  return { allowed, status: null, policy, rule, reason, trace: trace ?? NO_TRACE };
}
