// `istio.io/use-waypoint` (+ `istio.io/use-waypoint-namespace`) resolution, exactly as istiod's
// fetchWaypointForTarget / fetchWaypointForService / fetchWaypointForWorkload (spec/control-plane.md §4, §5, §11).
import { Labels } from "../api/labels.js";
import type { Binding, BindingError, Waypoint } from "./types.js";
import { acceptsServiceTraffic, acceptsWorkloadTraffic, attachmentAllowed } from "./waypoints.js";

export type WaypointLookup = (namespace: string, name: string) => Waypoint | undefined;

export interface BindingTarget {
  namespace: string;
  labels: Record<string, string>;
}

/** The waypoint an object asks for, before the traffic-type gate. No fallback: an object-level label that does
 *  not resolve leaves the object without a waypoint; the namespace is consulted only when the object has no label. */
export function fetchWaypointForTarget(
  target: BindingTarget,
  namespaceLabels: Record<string, string> | undefined,
  lookup: WaypointLookup,
): Binding {
  const own = target.labels[Labels.useWaypoint];
  if (own !== undefined) return resolve(own, target.labels, "object", target.namespace, namespaceLabels, lookup);
  const inherited = namespaceLabels?.[Labels.useWaypoint];
  if (inherited !== undefined && namespaceLabels) {
    return resolve(inherited, namespaceLabels, "namespace", target.namespace, namespaceLabels, lookup);
  }
  return { waypoint: null, decidedBy: null };
}

function resolve(
  value: string,
  labelsOfDecider: Record<string, string>,
  level: "object" | "namespace",
  bindingNamespace: string,
  namespaceLabels: Record<string, string> | undefined,
  lookup: WaypointLookup,
): Binding {
  if (value === "none") return { waypoint: null, decidedBy: level, requested: "none" };
  const wpNamespace = labelsOfDecider[Labels.useWaypointNamespace] ?? bindingNamespace;
  const key = `${wpNamespace}/${value}`;
  const waypoint = lookup(wpNamespace, value);
  if (!waypoint || !waypoint.ready) {
    return { waypoint: null, decidedBy: level, requested: key, error: notReady(key) };
  }
  if (!attachmentAllowed(waypoint, bindingNamespace, namespaceLabels)) {
    return {
      waypoint: null,
      decidedBy: level,
      requested: key,
      error: {
        reason: "AttachmentDenied",
        message: `we are not permitted to attach to waypoint "${key}" (missing allowedRoutes?)`,
      },
    };
  }
  return { waypoint, decidedBy: level, requested: key };
}

// Errors are immutable values shared by every object that hits them: a namespace label change can reach
// thousands of pods, and each would otherwise build the same message.
const errorCache = new Map<string, BindingError>();

function cachedError(reason: BindingError["reason"], message: string): BindingError {
  const key = `${reason}\0${message}`;
  let error = errorCache.get(key);
  if (!error) {
    if (errorCache.size > 10_000) errorCache.clear();
    error = Object.freeze({ reason, message });
    errorCache.set(key, error);
  }
  return error;
}

function notReady(key: string): BindingError {
  return cachedError("WaypointIsNotReady", `waypoint "${key}" is not ready`);
}

function unsupported(trafficType: "service" | "workload", key: string): BindingError {
  return cachedError(
    "UnsupportedTrafficType",
    `attempting to bind to traffic type "${trafficType}" which the waypoint "${key}" does not support`,
  );
}

/** Services and ServiceEntries: the waypoint must accept `service` traffic, even when the binding is inherited. */
export function fetchWaypointForService(
  target: BindingTarget,
  namespaceLabels: Record<string, string> | undefined,
  lookup: WaypointLookup,
): Binding {
  const candidate = fetchWaypointForTarget(target, namespaceLabels, lookup);
  const wp = candidate.waypoint;
  if (!wp || acceptsServiceTraffic(wp)) return candidate;
  return { ...candidate, waypoint: null, error: unsupported("service", `${wp.namespace}/${wp.name}`) };
}

/** Pods, WorkloadEntries, ServiceEntry endpoints: the waypoint must accept `workload` traffic. A mismatch is an
 *  error only when the object itself carries the label; inherited from the namespace it is silently ignored. */
export function fetchWaypointForWorkload(
  target: BindingTarget,
  namespaceLabels: Record<string, string> | undefined,
  lookup: WaypointLookup,
): Binding {
  const candidate = fetchWaypointForTarget(target, namespaceLabels, lookup);
  const wp = candidate.waypoint;
  if (!wp || acceptsWorkloadTraffic(wp)) return candidate;
  const error = unsupported("workload", `${wp.namespace}/${wp.name}`);
  return { ...candidate, waypoint: null, error, silent: candidate.decidedBy === "namespace" };
}
