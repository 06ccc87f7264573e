// The seed text writes `istio.io/use-waypoint: "#none"` and `{namespace}/{name}`. Istio's code knows neither and
// neither is a legal Kubernetes label value. Ambit accepts both in files, rewrites them to Istio's form
// (`none`; `use-waypoint` + `use-waypoint-namespace`) and warns with the form Kubernetes will accept.
import { Labels, labelValueError } from "./labels.js";

export interface SeedRewrite {
  /** The labels after rewriting. */
  labels: Record<string, string>;
  /** One sentence per rewrite, for a warning. */
  notes: string[];
}

export function isSeedUseWaypointValue(key: string, value: unknown): boolean {
  if (key !== Labels.useWaypoint || typeof value !== "string") return false;
  if (value === "#none") return true;
  const parts = value.split("/");
  return parts.length === 2 && parts.every((p) => p !== "" && labelValueError(p) === undefined);
}

export function rewriteSeedForms(labels: Record<string, string>): SeedRewrite {
  const value = labels[Labels.useWaypoint];
  if (value === undefined || !isSeedUseWaypointValue(Labels.useWaypoint, value)) return { labels, notes: [] };
  if (value === "#none") {
    return {
      labels: { ...labels, [Labels.useWaypoint]: "none" },
      notes: [
        `label ${Labels.useWaypoint}: "#none" is not a valid Kubernetes label value; treated as "none". Write ${Labels.useWaypoint}: none`,
      ],
    };
  }
  const [namespace, name] = value.split("/") as [string, string];
  return {
    labels: { ...labels, [Labels.useWaypoint]: name, [Labels.useWaypointNamespace]: namespace },
    notes: [
      `label ${Labels.useWaypoint}: "${value}" is not a valid Kubernetes label value; treated as waypoint ${namespace}/${name}. Write ${Labels.useWaypoint}: ${name} and ${Labels.useWaypointNamespace}: ${namespace}`,
    ],
  };
}
