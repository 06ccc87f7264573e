// One waypoint's L7 configuration (src/xds/waypoint-config.ts) derived from the mesh model: the services and
// workloads bound to it, the policies attached to it or to those services (control-plane.md §7, §9), and the
// HTTPRoutes whose parents are those services. Lists are sorted so equal inputs give equal JSON (and versions).

import { Labels } from "../api/labels.js";
import type {
  AuthorizationPolicy,
  HTTPRoute,
  KubeObject,
  RequestAuthentication,
  Telemetry,
  WasmPlugin,
} from "../api/resources.js";
import type { MeshModel } from "../mesh/model.js";
import type { ServiceState, Waypoint, Workload } from "../mesh/types.js";
import type { WaypointEndpoint, WaypointL7Config, WaypointService } from "../xds/waypoint-config.js";
import { namedPorts, serviceSelects } from "./selection.js";

const byName = <T extends { namespace: string; name: string }>(a: T, b: T) =>
  a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace);
const byMeta = (a: KubeObject, b: KubeObject) =>
  byName(
    { namespace: a.metadata.namespace ?? "", name: a.metadata.name },
    { namespace: b.metadata.namespace ?? "", name: b.metadata.name },
  );

export function waypointIdentity(model: MeshModel, wp: Waypoint): string {
  const pod = model
    .workloadsInNamespace(wp.namespace)
    .find((w) => w.waypointInstance && w.labels[Labels.gatewayName] === wp.name);
  // Istio deploys a waypoint with a service account named after its Gateway.
  return pod?.identity ?? `spiffe://${model.options.trustDomain}/ns/${wp.namespace}/sa/${wp.name}`;
}

function endpoint(w: Workload): WaypointEndpoint {
  const e: WaypointEndpoint = {
    namespace: w.namespace,
    name: w.name,
    address: w.ip ?? "",
    identity: w.identity,
    labels: w.labels,
    healthy: true,
    hbone: w.captured,
  };
  if (w.node !== undefined) e.node = w.node;
  return e;
}

function waypointService(model: MeshModel, s: ServiceState): WaypointService {
  const endpoints = model
    .workloadsInNamespace(s.namespace)
    .filter((w) => serviceSelects(s, w))
    .sort(byName);
  const first = endpoints[0];
  const named = first ? namedPorts(model, first) : undefined;
  return {
    kind: s.kind,
    namespace: s.namespace,
    name: s.name,
    hostname: s.hostnames[0] ?? "",
    vips: [...s.vips],
    ports: s.ports.map((p) => {
      const t = p.targetPort;
      const targetPort =
        t === undefined ? p.port : typeof t === "number" ? t : /^\d+$/.test(t) ? Number(t) : (named?.[t] ?? p.port);
      const out: WaypointService["ports"][number] = { port: p.port, targetPort };
      if (p.name !== undefined) out.name = p.name;
      if (p.protocol !== undefined) out.appProtocol = p.protocol;
      return out;
    }),
    endpoints: endpoints.map(endpoint),
  };
}

/** Does `attachedTo` (a policy's attachments) reach this waypoint, directly or through one of its services? */
export function attachmentReaches(
  attachedTo: readonly string[],
  wp: Waypoint,
  serviceKeys: ReadonlySet<string>,
): boolean {
  return attachedTo.some(
    (a) =>
      a === `Gateway/${wp.namespace}/${wp.name}` ||
      (a === "GatewayClass/istio-waypoint" && wp.meshManaged) ||
      serviceKeys.has(a),
  );
}

export function routeParentServices(route: HTTPRoute): string[] {
  const ns = route.metadata.namespace ?? "default";
  return (route.spec?.parentRefs ?? [])
    .filter((p) => p.kind === "Service" && (p.group ?? "") === "")
    .map((p) => `Service/${p.namespace ?? ns}/${p.name}`);
}

export function buildWaypointConfig(model: MeshModel, wp: Waypoint): WaypointL7Config {
  const services = model.servicesBoundTo(wp).sort(byName);
  const serviceKeys = new Set(services.map((s) => s.key));
  const attached = model
    .policies()
    .filter((p) => attachmentReaches(p.attachedTo, wp, serviceKeys))
    .map((p) => p.object)
    .sort(byMeta);
  const ofKind = <T extends KubeObject>(kind: string) => attached.filter((o) => o.kind === kind) as T[];
  const httpRoutes = model
    .objectsOf<HTTPRoute>("HTTPRoute")
    .filter((r) => routeParentServices(r).some((k) => serviceKeys.has(k)))
    .sort(byMeta);
  return {
    waypoint: {
      namespace: wp.namespace,
      name: wp.name,
      identity: waypointIdentity(model, wp),
      trafficType: wp.trafficType,
    },
    services: services.map((s) => waypointService(model, s)),
    workloads: model.workloadsBoundTo(wp).sort(byName).map(endpoint),
    authorizationPolicies: ofKind<AuthorizationPolicy>("AuthorizationPolicy"),
    requestAuthentications: ofKind<RequestAuthentication>("RequestAuthentication"),
    telemetries: ofKind<Telemetry>("Telemetry"),
    wasmPlugins: ofKind<WasmPlugin>("WasmPlugin"),
    httpRoutes,
    rootNamespace: model.options.rootNamespace,
    trustDomain: model.options.trustDomain,
  };
}
