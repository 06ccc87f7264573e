// `ambit check`: one enforcement point evaluated with the same engine the data plane runs — a waypoint (L7, the
// policies attached to it; policy.md §0, §1.2) or a destination ztunnel (L4 translations plus PeerAuthentication;
// policy.md §1.3, §3). Pure apart from JWT verification, which is async because `jose` is.
import type { AuthorizationPolicy, KubeObject, PeerAuthentication, RequestAuthentication } from "../api/resources.js";
import type { MeshModel } from "../mesh/model.js";
import type { PolicyState, ServiceState, Waypoint } from "../mesh/types.js";
import { type ExtAuthzProvider, type ExtAuthzResponse, WaypointAuthz } from "../policy/authz.js";
import type { Decision, Phase, TraceEntry } from "../policy/decision.js";
import { peerLevels, peerPoliciesFor, STATIC_STRICT_POLICY } from "../policy/peer.js";
import type { HttpAttributes, JwtResult, L7Request } from "../policy/request.js";
import { ZtunnelAuthz } from "../policy/ztunnel-authz.js";
import { type L4Policy, toZtunnelPolicy } from "../policy/ztunnel-policy.js";
import { authenticateToken, NO_AUTHN_NOTE } from "./check-jwt.js";
import { waypointPoliciesFor, ztunnelPoliciesAt } from "./views.js";

/** A policy the enforcement point considered, with where it was written. */
export interface PolicyLink {
  kind: string;
  namespace: string;
  name: string;
  action?: string;
  file?: string;
  line?: number;
}

export interface Evaluated {
  phase: Phase;
  /** null for the JWT phase (a token that failed validation, decided by no policy). */
  policy: PolicyLink | null;
  matched: boolean;
  rule: number | null;
  dryRun: boolean;
  reason: string;
}

export interface Verdict {
  allowed: boolean;
  /** HTTP status at a waypoint; null at ztunnel (the connection is reset, there is no HTTP). */
  status: number | null;
  policy: PolicyLink | null;
  rule: number | null;
  reason: string;
  /** Every policy considered, in the order the engine did. */
  trace: Evaluated[];
  /** ALLOW policies that applied when none matched: what a user must change. */
  unmatchedAllows: PolicyLink[];
  notes: string[];
}

/** What a token presented to a waypoint is: a compact JWT to verify, or claims taken as already validated. */
export type JwtInput = { token: string } | { claims: Record<string, unknown>; valid: boolean } | null;

export interface WaypointRequest {
  source: L7Request["source"];
  destination: L7Request["destination"];
  http: HttpAttributes | null;
  jwt: JwtInput;
  /** The answer every ext_authz provider gives; undefined = not simulated (a CUSTOM match then fails closed). */
  extAuthz?: "ALLOW" | "DENY";
}

function link(p: KubeObject): PolicyLink {
  const l: PolicyLink = { kind: p.kind, namespace: p.metadata.namespace ?? "default", name: p.metadata.name };
  if (p.kind === "AuthorizationPolicy") l.action = (p as AuthorizationPolicy).spec?.action ?? "ALLOW";
  if (p.source) {
    l.file = p.source.file;
    l.line = p.source.line;
  }
  return l;
}

function toEvaluated(t: TraceEntry, links: Map<string, PolicyLink>): Evaluated {
  const policy = t.policy
    ? (links.get(`${t.policy.namespace}/${t.policy.name}`) ?? {
        kind: "AuthorizationPolicy",
        namespace: t.policy.namespace,
        name: t.policy.name,
      })
    : null;
  return { phase: t.phase, policy, matched: t.matched, rule: t.rule, dryRun: t.dryRun, reason: t.reason };
}

function verdict(d: Decision, trace: Evaluated[], links: Map<string, PolicyLink>, notes: string[]): Verdict {
  const policy = d.policy ? (links.get(`${d.policy.namespace}/${d.policy.name}`) ?? null) : null;
  const unmatchedAllows =
    !d.allowed && policy === null
      ? trace.filter((e) => e.phase === "ALLOW" && !e.dryRun && !e.matched && e.policy).map((e) => e.policy!)
      : [];
  return {
    allowed: d.allowed,
    status: d.status,
    policy,
    rule: d.rule,
    reason: d.reason,
    trace,
    unmatchedAllows,
    notes,
  };
}

function kindOf(policies: readonly PolicyState[], kind: string): KubeObject[] {
  return policies.filter((p) => p.kind === kind).map((p) => p.object);
}

/** At a waypoint: the policies attached to it (Gateway, GatewayClass, and `service` when the request is for it). */
export async function evaluateAtWaypoint(
  model: MeshModel,
  wp: Waypoint,
  service: ServiceState | undefined,
  req: WaypointRequest,
): Promise<Verdict> {
  const attached = waypointPoliciesFor(model, wp, service);
  const aps = kindOf(attached, "AuthorizationPolicy") as AuthorizationPolicy[];
  const ras = kindOf(attached, "RequestAuthentication") as RequestAuthentication[];
  const links = new Map(aps.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, link(p)]));
  const notes: string[] = [];

  let jwt: JwtResult | null = null;
  if (req.jwt && "token" in req.jwt) {
    const authn = await authenticateToken(ras, req.jwt.token, req.http);
    jwt = authn.jwt;
    notes.push(...authn.notes);
  } else if (req.jwt && ras.length === 0) {
    notes.push(NO_AUTHN_NOTE);
  } else if (req.jwt) {
    jwt = { claims: req.jwt.claims, valid: req.jwt.valid };
    if (!req.jwt.valid) jwt.error = "Jwt verification fails";
  }

  // The mesh config (meshConfig.extensionProviders) is not part of the input: every provider a CUSTOM policy names
  // is taken as defined, and answers as the caller says.
  const providers: Record<string, ExtAuthzProvider> = {};
  for (const p of aps) {
    const name = p.spec?.provider?.name;
    if (p.spec?.action === "CUSTOM" && name) providers[name] = { kind: "grpc" };
  }
  const answers: Record<string, ExtAuthzResponse> = {};
  if (req.extAuthz) for (const name of Object.keys(providers)) answers[name] = { allowed: req.extAuthz === "ALLOW" };
  if (!req.extAuthz && Object.keys(providers).length > 0) {
    notes.push(
      `CUSTOM policies call ext_authz (${Object.keys(providers).sort().join(", ")}); its answer is not simulated, so a matching CUSTOM rule fails closed (403)`,
    );
  }

  const engine = WaypointAuthz.compile(aps, {
    trustDomain: model.options.trustDomain,
    extAuthzProviders: providers,
  });
  const request: L7Request = { source: req.source, destination: req.destination, http: req.http, jwt };
  const d = engine.evaluate(request, { trace: true, extAuthz: answers });
  const trace = d.trace.map((t) => toEvaluated(t, links));
  // A failed token is rejected by jwt_authn, not by a policy; name the RequestAuthentication when there is one.
  if (ras.length === 1) for (const t of trace) if (t.phase === "JWT") t.policy = link(ras[0]!);
  return verdict(d, trace, links, notes);
}

export interface ZtunnelConnection {
  /** Peer SPIFFE ID, or null for plaintext (an uncaptured client). */
  principal: string | null;
  sourceIp: string;
  destinationIp: string;
  /** Workload (target) port: what ztunnel compares. */
  port: number;
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** At the destination ztunnel: global, namespace and selector policies, and what PeerAuthentication adds. */
export function evaluateAtZtunnel(model: MeshModel, conn: ZtunnelConnection): Verdict {
  const root = model.options.rootNamespace;
  const aps = kindOf(
    ztunnelPoliciesAt(model, conn.namespace, conn.labels),
    "AuthorizationPolicy",
  ) as AuthorizationPolicy[];
  const links = new Map<string, PolicyLink>();
  const l4: L4Policy[] = [];
  const attached: string[] = [];
  const dropped = new Set<string>();
  for (const ap of aps) {
    const { sent, condition } = toZtunnelPolicy(ap, root);
    if (!sent) continue;
    const key = `${sent.namespace}/${sent.name}`;
    l4.push(sent);
    links.set(key, link(ap));
    if (sent.scope === "WORKLOAD_SELECTOR") attached.push(key);
    if (condition?.reason === "UnsupportedValue") dropped.add(key);
  }
  const pas = model.objectsOf<PeerAuthentication>("PeerAuthentication");
  const target = { namespace: conn.namespace, labels: conn.labels };
  const peer = peerPoliciesFor(pas, target, root);
  l4.push(...peer.policies);
  attached.push(...peer.keys);
  const levels = peerLevels(pas, target, root);
  const strictBy = [levels.workload, levels.namespace, levels.mesh].find((pa) => pa?.spec?.mtls?.mode === "STRICT");
  for (const p of peer.policies) {
    const from = p.name === STATIC_STRICT_POLICY ? (strictBy ?? levels.workload) : levels.workload;
    const action = p.name === STATIC_STRICT_POLICY ? "STRICT" : "portLevelMtls";
    if (from) links.set(`${p.namespace}/${p.name}`, { ...link(from), action });
  }

  const d = ZtunnelAuthz.build(l4).evaluate(
    {
      source: { principal: conn.principal, ip: conn.sourceIp },
      destination: { ip: conn.destinationIp, port: conn.port, namespace: conn.namespace, policies: attached },
    },
    { trace: true },
  );
  const byKey = new Map(aps.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const trace = d.trace.map((t) => {
    const e = toEvaluated(t, links);
    const key = t.policy ? `${t.policy.namespace}/${t.policy.name}` : "";
    const ap = byKey.get(key);
    if (e.policy?.kind === "PeerAuthentication") {
      const accepted = conn.principal ? "peer has an identity (HBONE mTLS)" : "plaintext accepted on this port";
      e.reason = e.matched ? "plaintext refused (mTLS STRICT)" : accepted;
    } else if (ap && !e.matched) {
      e.reason = explainL4(ap, conn, model.options.trustDomain) ?? e.reason;
    }
    if (dropped.has(key)) e.reason += "; rules with HTTP fields are dropped at ztunnel (it has no L7)";
    return e;
  });
  return verdict(d, trace, links, []);
}

/** A readable reason an L4 rule missed, from the L7 engine run on a TCP stream (same fields, same semantics). */
function explainL4(ap: AuthorizationPolicy, conn: ZtunnelConnection, trustDomain: string): string | undefined {
  const d = WaypointAuthz.compile([ap], { trustDomain }).evaluate(
    {
      source: { principal: conn.principal, ip: conn.sourceIp },
      destination: { ip: conn.destinationIp, port: conn.port },
      http: null,
      jwt: null,
    },
    { trace: true },
  );
  const t = d.trace.find((x) => x.policy !== null);
  return t && !t.matched ? t.reason : undefined;
}
