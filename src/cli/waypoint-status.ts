// `ambit waypoint status`: istioctl waypoint status over the running mesh (user-needs.md §2.1). Each waypoint's
// `Programmed` condition is decided by asking its readiness endpoint, as the Gateway controller would from its
// Deployment: ready → True/Programmed, otherwise False/NotReady with what the probe saw.

import { probeReadiness, type Readiness, type RunningMesh, type RunningWaypoint } from "./running-mesh.js";
import { formatTable } from "./table.js";
import { cmp } from "./ztunnel-config-tables.js";

export interface WaypointStatusOptions {
  namespace: string;
  allNamespaces: boolean;
}

export interface WaypointCondition {
  status: "True" | "False";
  type: "Programmed";
  reason: "Programmed" | "NotReady";
  message: string;
}

/** The Gateway's Programmed condition given its waypoint pod's readiness. */
export function programmedCondition(w: RunningWaypoint, r: Readiness): WaypointCondition {
  if (r.ready) {
    return {
      status: "True",
      type: "Programmed",
      reason: "Programmed",
      message: `Resource programmed, assigned to service(s) ${w.name}.${w.namespace}.svc.cluster.local:15008`,
    };
  }
  return {
    status: "False",
    type: "Programmed",
    reason: "NotReady",
    message: `waypoint pod ${w.pod} is not ready: ${r.detail}`,
  };
}

export function waypointStatusTable(
  rows: ReadonlyArray<{ waypoint: RunningWaypoint; condition: WaypointCondition }>,
  allNamespaces: boolean,
): string {
  if (rows.length === 0) return "No waypoints found.\n";
  const header = ["NAME", "STATUS", "TYPE", "REASON", "MESSAGE"];
  const cells = rows.map(({ waypoint: w, condition: c }) => [
    ...(allNamespaces ? [w.namespace] : []),
    w.name,
    c.status,
    c.type,
    c.reason,
    c.message,
  ]);
  // Padding 5, as istioctl's waypoint tables.
  return formatTable([allNamespaces ? ["NAMESPACE", ...header] : header, ...cells], 5);
}

export async function waypointStatus(mesh: RunningMesh, options: WaypointStatusOptions): Promise<string> {
  const waypoints = mesh.waypoints
    .filter((w) => options.allNamespaces || w.namespace === options.namespace)
    .sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
  const readiness = await Promise.all(waypoints.map((w) => probeReadiness(w.readiness)));
  return waypointStatusTable(
    waypoints.map((w, i) => ({
      waypoint: w,
      condition: programmedCondition(w, readiness[i] ?? { ready: false, detail: "not probed" }),
    })),
    options.allNamespaces,
  );
}
