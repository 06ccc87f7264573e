// Which Gateways are waypoints, their traffic type, readiness, address and attachment permissions
// (spec/control-plane.md §3; waypoints.go: gatewayToWaypointTransform, getGatewayAddress, makeAllowedRoutes).
import { Labels, MESH_CONTROLLER, WAYPOINT_GATEWAY_CLASS } from "../api/labels.js";
import type { Gateway, GatewayClass, GatewayListener } from "../api/resources.js";
import { matchesSelector } from "./selectors.js";
import type { AllowedRoutes, MeshOptions, Waypoint } from "./types.js";

export const HBONE_PORT = 15008;

export function isMeshManagedClass(className: string, gatewayClass: GatewayClass | undefined): boolean {
  if (gatewayClass) return gatewayClass.spec?.controllerName === MESH_CONTROLLER;
  // istiod installs the built-in `istio-waypoint` class; manifests rarely include it.
  return className === WAYPOINT_GATEWAY_CLASS;
}

/** A Gateway as a waypoint. Every Gateway is one as soon as it reports a status address (any class);
 *  in a plan, a mesh-managed Gateway counts as deployed and addressed by its Service hostname. */
export function gatewayToWaypoint(
  gw: Gateway,
  gatewayClass: GatewayClass | undefined,
  options: Pick<MeshOptions, "mode" | "clusterDomain">,
): Waypoint {
  const spec = gw.spec ?? { gatewayClassName: "" };
  const namespace = gw.metadata.namespace ?? "default";
  const meshManaged = isMeshManagedClass(spec.gatewayClassName, gatewayClass);
  const label = gw.metadata.labels?.[Labels.waypointFor] ?? gatewayClass?.metadata.labels?.[Labels.waypointFor];
  const address = gatewayAddress(gw, meshManaged, options);
  const programmedCondition = gw.status?.conditions?.find((c) => c.type === "Programmed");
  return {
    namespace,
    name: gw.metadata.name,
    gatewayClassName: spec.gatewayClassName,
    trafficTypeLabel: label,
    trafficType: label ?? "service",
    ready: address !== null,
    address,
    allowedRoutes: allowedRoutesOf(spec.listeners ?? []),
    revision: gw.metadata.labels?.[Labels.revision] ?? "default",
    programmed: programmedCondition ? programmedCondition.status === "True" : options.mode === "plan" && meshManaged,
    meshManaged,
    source: gw.source,
  };
}

function gatewayAddress(
  gw: Gateway,
  meshManaged: boolean,
  options: Pick<MeshOptions, "mode" | "clusterDomain">,
): string | null {
  const addresses = gw.status?.addresses ?? [];
  if (addresses.length > 0) {
    const hostname = addresses.find((a) => a.type === "Hostname");
    if (hostname) return hostname.value;
    const ip = addresses.find((a) => (a.type ?? "IPAddress") === "IPAddress" && isIp(a.value));
    return ip ? ip.value : null;
  }
  if (options.mode === "plan" && meshManaged) {
    return `${gw.metadata.name}.${gw.metadata.namespace ?? "default"}.svc.${options.clusterDomain}`;
  }
  return null;
}

function isIp(v: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v) || (v.includes(":") && /^[0-9a-fA-F:.]+$/.test(v));
}

/** The HBONE listener's allowedRoutes; `Same` when absent (makeAllowedRoutes). */
export function allowedRoutesOf(listeners: ReadonlyArray<GatewayListener>): AllowedRoutes {
  const hbone = listeners.find((l) => l.protocol === "HBONE" && l.port === HBONE_PORT);
  const from = hbone?.allowedRoutes?.namespaces?.from;
  if (from === "All") return { from: "All" };
  if (from === "Selector") return { from: "Selector", selector: hbone?.allowedRoutes?.namespaces?.selector ?? {} };
  return { from: "Same" };
}

export function attachmentAllowed(
  waypoint: Waypoint,
  bindingNamespace: string,
  namespaceLabels: Record<string, string> | undefined,
): boolean {
  const rules = waypoint.allowedRoutes;
  if (rules.from === "All") return true;
  if (rules.from === "Same") return waypoint.namespace === bindingNamespace;
  return matchesSelector(rules.selector, namespaceLabels ?? {});
}

export function acceptsServiceTraffic(w: Waypoint): boolean {
  return w.trafficType === "service" || w.trafficType === "all";
}

export function acceptsWorkloadTraffic(w: Waypoint): boolean {
  return w.trafficType === "workload" || w.trafficType === "all";
}

/** The waypoint class expects one listener, port 15008, protocol HBONE (gateway/conversion.go). */
export function waypointListenerProblem(gw: Gateway): string | undefined {
  const listeners = gw.spec?.listeners ?? [];
  const ok = listeners.length === 1 && listeners[0]?.port === HBONE_PORT && listeners[0]?.protocol === "HBONE";
  return ok ? undefined : 'Expected a single listener on port 15008 with protocol "HBONE"';
}
