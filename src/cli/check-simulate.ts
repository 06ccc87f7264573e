// `ambit check`: a request sent along its route, each enforcement point asked in turn (policy.md §0): the
// waypoint sees the client's identity; the destination ztunnel sees the waypoint's identity after a waypoint,
// the client's without one, and no identity at all from an uncaptured (plaintext) client.
import type { AuthorizationPolicy } from "../api/resources.js";
import type { MeshModel } from "../mesh/model.js";
import type { PolicyState, Waypoint, Workload } from "../mesh/types.js";
import type { HttpAttributes } from "../policy/request.js";
import {
  evaluateAtWaypoint,
  evaluateAtZtunnel,
  type JwtInput,
  type PolicyLink,
  type Verdict,
} from "./check-enforce.js";
import type { Route } from "./check-path.js";
import { servicesSelecting, ztunnelPoliciesFor } from "./views.js";

/** Stand-in for an address the input does not give (plan mode has no pod IPs); `ipBlocks` see this. */
const UNKNOWN_IP = "0.0.0.0";

export interface CheckRequest {
  http: HttpAttributes;
  /** Which HTTP flags the user gave (ztunnel never sees them; worth saying when no waypoint is on the path). */
  httpFlags: string[];
  jwt: JwtInput;
  extAuthz?: "ALLOW" | "DENY";
}

export interface WaypointHop {
  waypoint: Waypoint;
  why: string;
  identitySeen: string | null;
  verdict: Verdict;
}

export interface DestinationHop {
  pod: Workload;
  port: number;
  identitySeen: string | null;
  /** Not reached when the waypoint denied. */
  reached: boolean;
  /** null when the pod is not captured (no ztunnel) or the hop was not reached. */
  verdict: Verdict | null;
  /** Other endpoints whose ztunnel would decide differently. */
  differing: Array<{ pod: Workload; allowed: boolean }>;
  sameAsOthers: number;
}

export type DeniedAt = "waypoint" | "destination ztunnel" | "routing";

export interface Simulation {
  route: Route;
  request: CheckRequest;
  waypoint: WaypointHop | null;
  destination: DestinationHop | null;
  allowed: boolean;
  status: number | null;
  deniedAt: DeniedAt | null;
  policy: PolicyLink | null;
  rule: number | null;
  reason: string;
  unmatchedAllows: PolicyLink[];
  notes: string[];
}

export function waypointIdentity(model: MeshModel, wp: Waypoint): string {
  // A waypoint's pods run as a service account named after the Gateway.
  return `spiffe://${model.options.trustDomain}/ns/${wp.namespace}/sa/${wp.name}`;
}

export async function simulate(model: MeshModel, route: Route, request: CheckRequest): Promise<Simulation> {
  const src = route.source;
  const notes: string[] = [];
  let waypoint: WaypointHop | null = null;
  if (route.waypoint) {
    const t = route.target;
    const destination =
      t.kind === "service"
        ? {
            ip: t.service.vips[0] ?? UNKNOWN_IP,
            port: t.port,
            namespace: t.service.namespace,
            service: `${t.service.namespace}/${t.service.name}`,
          }
        : { ip: t.pod.ip ?? UNKNOWN_IP, port: t.port, namespace: t.pod.namespace, labels: t.pod.labels };
    const verdict = await evaluateAtWaypoint(
      model,
      route.waypoint.waypoint,
      t.kind === "service" ? t.service : undefined,
      {
        source: { principal: src.identity, namespace: src.namespace, ip: src.ip ?? UNKNOWN_IP },
        destination,
        http: request.http,
        jwt: request.jwt,
        extAuthz: request.extAuthz,
      },
    );
    waypoint = { ...route.waypoint, identitySeen: src.identity, verdict };
  } else {
    notes.push(...unseenNotes(model, route, request));
  }

  let destination: DestinationHop | null = null;
  if (route.destination) {
    const reached = !waypoint || waypoint.verdict.allowed;
    const identitySeen = waypoint ? waypointIdentity(model, waypoint.waypoint) : src.identity;
    const sourceIp = waypoint ? UNKNOWN_IP : (src.ip ?? UNKNOWN_IP);
    const at = (pod: Workload) =>
      pod.captured
        ? evaluateAtZtunnel(model, {
            principal: identitySeen,
            sourceIp,
            destinationIp: pod.ip ?? UNKNOWN_IP,
            port: route.targetPort,
            namespace: pod.namespace,
            labels: pod.labels,
          })
        : null;
    const verdict = reached ? at(route.destination) : null;
    const differing: DestinationHop["differing"] = [];
    if (reached) {
      const first = verdict?.allowed ?? true;
      for (const other of route.otherEndpoints) {
        const allowed = at(other)?.allowed ?? true;
        if (allowed !== first) differing.push({ pod: other, allowed });
      }
    }
    destination = {
      pod: route.destination,
      port: route.targetPort,
      identitySeen,
      reached,
      verdict,
      differing,
      sameAsOthers: reached ? route.otherEndpoints.length - differing.length : 0,
    };
  }

  const base = { route, request, waypoint, destination, notes };
  if (waypoint && !waypoint.verdict.allowed) return { ...base, ...denial("waypoint", waypoint.verdict) };
  if (!destination && route.external) {
    const status = waypoint ? 200 : null;
    return {
      ...base,
      allowed: true,
      status,
      deniedAt: null,
      policy: null,
      rule: null,
      reason: "allowed",
      unmatchedAllows: [],
    };
  }
  if (!destination) {
    const status = waypoint ? 503 : null;
    const reason = waypoint
      ? "no healthy upstream: the service has no endpoints"
      : "the service has no endpoints: ztunnel closes the connection (NoHealthyUpstream)";
    return {
      ...base,
      allowed: false,
      status,
      deniedAt: "routing",
      policy: null,
      rule: null,
      reason,
      unmatchedAllows: [],
    };
  }
  if (destination.verdict && !destination.verdict.allowed) {
    return { ...base, ...denial("destination ztunnel", destination.verdict) };
  }
  return {
    ...base,
    allowed: true,
    status: waypoint ? 200 : null,
    deniedAt: null,
    policy: null,
    rule: null,
    reason: "allowed",
    unmatchedAllows: [],
  };
}

function denial(at: DeniedAt, v: Verdict) {
  return {
    allowed: false,
    status: v.status,
    deniedAt: at,
    policy: v.policy,
    rule: v.rule,
    reason: v.reason,
    unmatchedAllows: v.unmatchedAllows,
  };
}

const L7_SOURCE_FIELDS = ["requestPrincipals", "notRequestPrincipals"] as const;

function usesRequestAuth(ap: AuthorizationPolicy): boolean {
  return (ap.spec?.rules ?? []).some(
    (r) =>
      (r.from ?? []).some((f) => L7_SOURCE_FIELDS.some((k) => (f.source?.[k]?.length ?? 0) > 0)) ||
      (r.when ?? []).some((w) => w.key.startsWith("request.auth.")),
  );
}

function policyName(p: PolicyState): string {
  const where = p.object.source ? ` (${p.object.source.file}:${p.object.source.line})` : "";
  return `${p.kind} ${p.namespace}/${p.name}${where}`;
}

/** What a request without a waypoint never meets: L7 policies of its service, HTTP fields, tokens. */
function unseenNotes(model: MeshModel, route: Route, request: CheckRequest): string[] {
  const notes: string[] = [];
  const t = route.target;
  const services = t.kind === "service" ? [t.service] : servicesSelecting(model, t.pod);
  const targeting = model
    .policies()
    .filter(
      (p) =>
        (p.kind === "AuthorizationPolicy" || p.kind === "RequestAuthentication") &&
        p.attachment.refs.some((r) =>
          services.some((s) => r.ref.kind === s.kind && r.ref.name === s.name && p.namespace === s.namespace),
        ),
    )
    .sort((a, b) => a.key.localeCompare(b.key));
  for (const p of targeting) {
    const svc = p.attachment.refs.find((r) => r.ref.kind === "Service" || r.ref.kind === "ServiceEntry")?.ref;
    notes.push(
      `${policyName(p)} targets ${svc?.kind ?? "service"} ${p.namespace}/${svc?.name ?? "?"}, but this request passes no waypoint: it is enforced nowhere for it`,
    );
  }
  if (request.httpFlags.length > 0) {
    notes.push(
      `${request.httpFlags.join(", ")} given, but no waypoint is on the path: ztunnel is L4 and never sees HTTP, so they change nothing`,
    );
  }
  if (request.jwt) {
    notes.push("a JWT was given, but no waypoint is on the path: ztunnel has no L7, the token is never validated");
    const l4 = route.destination ? ztunnelPoliciesFor(model, route.destination) : [];
    for (const p of [...l4, ...targeting]) {
      if (p.kind === "AuthorizationPolicy" && usesRequestAuth(p.object as AuthorizationPolicy)) {
        notes.push(
          `${policyName(p)} matches request principals or claims: ${l4.includes(p) ? "ztunnel drops those rules (ALLOW) or ignores those fields (DENY)" : "never evaluated without a waypoint"}`,
        );
      }
    }
  }
  return notes;
}
