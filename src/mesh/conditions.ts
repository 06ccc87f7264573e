// Status conditions istiod writes (spec/control-plane.md §6; pilot/pkg/model/service.go GetConditions,
// flattenConditions).
import type { Condition } from "../api/resources.js";
import type { Binding } from "./types.js";

export const WAYPOINT_BOUND = "istio.io/WaypointBound";
export const ZTUNNEL_ACCEPTED = "ZtunnelAccepted";
export const WAYPOINT_ACCEPTED = "WaypointAccepted";

/** `istio.io/WaypointBound` on Services, ServiceEntries and WorkloadEntries; absent when no binding was attempted. */
export function waypointBoundCondition(
  binding: Binding,
  ingress: { useWaypoint: boolean; labelPresent: boolean } = { useWaypoint: false, labelPresent: false },
): Condition | undefined {
  if (binding.waypoint) {
    let message = `Successfully attached to waypoint ${binding.waypoint.namespace}/${binding.waypoint.name}`;
    if (ingress.useWaypoint) message += ". Ingress traffic will traverse the waypoint";
    else if (ingress.labelPresent) {
      message +=
        ". Ingress traffic is not using the waypoint, set the istio.io/ingress-use-waypoint label to true if desired.";
    }
    return { type: WAYPOINT_BOUND, status: "True", reason: "WaypointAccepted", message };
  }
  if (binding.error && !binding.silent) {
    return { type: WAYPOINT_BOUND, status: "False", reason: binding.error.reason, message: binding.error.message };
  }
  return undefined;
}

/** Go's strconv.ParseBool, which `istio.io/ingress-use-waypoint` uses. */
export function parseGoBool(v: string): boolean {
  return ["1", "t", "T", "TRUE", "true", "True"].includes(v);
}

export interface RefResult {
  bound: boolean;
  reason: string;
  message: string;
  /** `<Kind>.<group or "core">:<key>`, used in aggregate messages. */
  ancestor: string;
}

/** One WaypointAccepted condition from the per-targetRef results (flattenConditions). */
export function flattenWaypointAccepted(results: ReadonlyArray<RefResult>, generation?: number): Condition | undefined {
  const first = results[0];
  if (!first) return undefined;
  const withGen = (c: Condition): Condition =>
    generation === undefined ? c : { ...c, observedGeneration: generation };
  if (results.length === 1) {
    return withGen({
      type: WAYPOINT_ACCEPTED,
      status: first.bound ? "True" : "False",
      reason: first.reason,
      message: first.message,
    });
  }
  const unbound = results.filter((r) => !r.bound);
  if (unbound.length === 0)
    return withGen({ type: WAYPOINT_ACCEPTED, status: "True", reason: "Accepted", message: "" });
  const message = `Invalid targetRefs: ${unbound.map((r) => r.ancestor).join(", ")}`;
  if (unbound.length < results.length) {
    return withGen({ type: WAYPOINT_ACCEPTED, status: "True", reason: "PartiallyInvalid", message });
  }
  return withGen({ type: WAYPOINT_ACCEPTED, status: "False", reason: "Invalid", message });
}
