// `ambit check`: which hops a request takes and why (data-plane.md §3.1). A captured client's ztunnel sends
// service-addressed traffic to the service's waypoint and pod-addressed traffic to the pod's own waypoint; an
// uncaptured client has no ztunnel, so it reaches the pod directly, in plaintext, past any waypoint.
import { Labels } from "../api/labels.js";
import { AmbitError } from "../errors.js";
import type { MeshModel } from "../mesh/model.js";
import type { Binding, ServiceState, Waypoint, Workload } from "../mesh/types.js";
import { parseIdentity, policyPrincipal, SPIFFE_PREFIX } from "../policy/identity.js";
import { explainBinding, findPod, findService } from "./describe.js";
import { endpointsOf, servicesSelecting } from "./views.js";

export type SourceSpec = { kind: "pod"; pod: Workload } | { kind: "principal"; principal: string };
export type TargetSpec =
  | { kind: "service"; service: ServiceState; port: number }
  | { kind: "pod"; pod: Workload; port: number };

export interface RouteSource {
  /** `pod bookinfo/curl-…` or `principal spiffe://…`. */
  label: string;
  namespace: string;
  /** Full SPIFFE ID, or null when the client sends plaintext. */
  identity: string | null;
  captured: boolean;
  why: string;
  ip: string | undefined;
}

export interface Route {
  source: RouteSource;
  target: TargetSpec;
  /** The waypoint the request goes through, and why; null when none applies. */
  waypoint: { waypoint: Waypoint; why: string } | null;
  /** Why there is no waypoint (only when `waypoint` is null). */
  noWaypoint: string | null;
  /** The pod the destination ztunnel delivers to; null when the service has no endpoints. */
  destination: Workload | null;
  /** Port the destination ztunnel sees: the workload (target) port. */
  targetPort: number;
  /** Other endpoints the service could pick (ztunnel load-balances at random). */
  otherEndpoints: Workload[];
  /** A ServiceEntry without workload endpoints: its hosts, reached outside the mesh (no destination ztunnel). */
  external: string[] | null;
}

const REF = /^(pod|po|service|svc)\/([^/]+)\/([^/:]+)(?::(\d+))?$/;

function usage(message: string): AmbitError {
  return new AmbitError("AMBIT_CLI_USAGE", message);
}

/** `--from pod/NS/NAME` (a Deployment name picks its first pod). */
export function parseSource(model: MeshModel, from: string | undefined, principal: string | undefined): SourceSpec {
  if ((from === undefined) === (principal === undefined)) {
    throw usage("pass exactly one of --from pod/NS/NAME or --from-principal cluster.local/ns/NS/sa/SA");
  }
  if (principal !== undefined) {
    if (!parseIdentity(policyPrincipal(principal))) {
      throw usage(`--from-principal "${principal}" is not a SPIFFE identity like cluster.local/ns/NS/sa/SA`);
    }
    return {
      kind: "principal",
      principal: principal.startsWith(SPIFFE_PREFIX) ? principal : SPIFFE_PREFIX + principal,
    };
  }
  const m = REF.exec(from ?? "");
  if (!m || (m[1] !== "pod" && m[1] !== "po") || m[4] !== undefined) {
    throw usage(`--from "${from}" must be pod/NAMESPACE/NAME`);
  }
  return { kind: "pod", pod: found(() => findPod(model, m[2]!, m[3]!)) };
}

/** `--to service/NS/NAME:PORT` or `pod/NS/NAME:PORT`; the port may be left out when a service has exactly one. */
export function parseTarget(model: MeshModel, to: string | undefined): TargetSpec {
  const m = REF.exec(to ?? "");
  if (!m) throw usage(`--to "${to ?? ""}" must be service/NAMESPACE/NAME:PORT or pod/NAMESPACE/NAME:PORT`);
  const port = m[4] === undefined ? undefined : Number(m[4]);
  if (m[1] === "pod" || m[1] === "po") {
    if (port === undefined || port < 1 || port > 65535) throw usage(`--to "${to}": give the pod's port (NAME:PORT)`);
    return { kind: "pod", pod: found(() => findPod(model, m[2]!, m[3]!)), port };
  }
  const service = found(() => findService(model, m[2]!, m[3]!));
  const ports = service.ports.map((p) => p.port);
  const chosen = port ?? (ports.length === 1 ? ports[0] : undefined);
  if (chosen === undefined || !ports.includes(chosen)) {
    throw usage(
      `--to "${to}": ${service.kind} ${service.namespace}/${service.name} has ports ${ports.join(", ") || "none"}`,
    );
  }
  return { kind: "service", service, port: chosen };
}

/** Not finding a named object is a usage error here: exit 1 already means "denied". */
function found<T>(lookup: () => T): T {
  try {
    return lookup();
  } catch (e) {
    if (e instanceof AmbitError && e.code === "AMBIT_CLI_NOT_FOUND") throw usage(e.message);
    throw e;
  }
}

function routeSource(source: SourceSpec): RouteSource {
  if (source.kind === "principal") {
    const id = parseIdentity(policyPrincipal(source.principal))!;
    return {
      label: `principal ${source.principal}`,
      namespace: id.namespace,
      identity: source.principal,
      captured: true,
      why: "a client with this identity (assumed captured)",
      ip: undefined,
    };
  }
  const pod = source.pod;
  return {
    label: `pod ${pod.namespace}/${pod.name}`,
    namespace: pod.namespace,
    identity: pod.captured ? pod.identity : null,
    captured: pod.captured,
    why: pod.captureReason,
    ip: pod.ip,
  };
}

function whyWaypoint(b: Binding, subject: string, subjectNamespace: string, ownKind: string): string {
  const wp = b.waypoint!;
  const level = b.decidedBy === "object" ? `${ownKind} label` : "namespace label";
  const cross = wp.namespace !== subjectNamespace ? `, ${Labels.useWaypointNamespace}=${wp.namespace}` : "";
  return `${subject} uses it (${level} ${Labels.useWaypoint}=${wp.name}${cross}; waypoint-for: ${wp.trafficType})`;
}

function targetPortOf(target: TargetSpec): number {
  if (target.kind === "pod") return target.port;
  const p = target.service.ports.find((x) => x.port === target.port);
  return typeof p?.targetPort === "number" ? p.targetPort : target.port;
}

export function resolveRoute(model: MeshModel, source: SourceSpec, target: TargetSpec): Route {
  const src = routeSource(source);
  let waypoint: Route["waypoint"] = null;
  let noWaypoint: string | null = null;
  let destination: Workload | null;
  let otherEndpoints: Workload[] = [];
  let external: string[] | null = null;
  if (target.kind === "service") {
    const s = target.service;
    const subject = `${s.kind === "Service" ? "service" : "ServiceEntry"} ${s.namespace}/${s.name}`;
    const endpoints = endpointsOf(model, s).sort((a, b) => a.name.localeCompare(b.name));
    destination = endpoints[0] ?? null;
    otherEndpoints = endpoints.slice(1);
    if (!destination && s.kind === "ServiceEntry") external = s.hostnames;
    if (s.binding.waypoint)
      waypoint = { waypoint: s.binding.waypoint, why: whyWaypoint(s.binding, subject, s.namespace, s.kind) };
    else noWaypoint = `${subject}: ${explainBinding(s.binding, "service", s.kind)}`;
  } else {
    const p = target.pod;
    destination = p;
    if (p.binding.waypoint) {
      waypoint = {
        waypoint: p.binding.waypoint,
        why: whyWaypoint(p.binding, `pod ${p.namespace}/${p.name}`, p.namespace, "pod"),
      };
    } else {
      noWaypoint = `traffic to pod ${p.namespace}/${p.name}'s IP: ${explainBinding(p.binding, "workload", "pod")}`;
      const skipped = servicesSelecting(model, p).filter((s) => s.binding.waypoint);
      for (const s of skipped) {
        noWaypoint += `; it skips waypoint ${s.binding.waypoint!.namespace}/${s.binding.waypoint!.name} of service ${s.namespace}/${s.name}, which only sees service-addressed traffic`;
      }
    }
  }
  if (!src.captured && waypoint) {
    noWaypoint = `the client is not captured: no ztunnel sends its traffic to waypoint ${waypoint.waypoint.namespace}/${waypoint.waypoint.name}, it goes straight to the pod`;
    waypoint = null;
  }
  const targetPort = targetPortOf(target);
  return { source: src, target, waypoint, noWaypoint, destination, targetPort, otherEndpoints, external };
}
