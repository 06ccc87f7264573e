// `ambit waypoint list`: istioctl waypoint list, over manifests or a snapshot.
import type { MeshModel } from "../mesh/model.js";
import { formatTable } from "./table.js";

export interface WaypointListOptions {
  namespace: string;
  allNamespaces: boolean;
}

export function waypointList(model: MeshModel, options: WaypointListOptions): string {
  const waypoints = model
    .waypoints()
    .filter((w) => w.meshManaged && (options.allNamespaces || w.namespace === options.namespace))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  if (waypoints.length === 0) return "No waypoints found.\n";
  const header = ["NAME", "REVISION", "TRAFFIC TYPE", "PROGRAMMED"];
  // istioctl prints `none` when the label is absent although the effective type is `service`; Ambit prints the
  // effective type, which is what the waypoint actually accepts.
  const rows = waypoints.map((w) => [w.name, w.revision, w.trafficType, w.programmed ? "True" : "False"]);
  if (options.allNamespaces) {
    return formatTable([["NAMESPACE", ...header], ...rows.map((r, i) => [waypoints[i]?.namespace ?? "", ...r])], 5);
  }
  return formatTable([header, ...rows], 5);
}
