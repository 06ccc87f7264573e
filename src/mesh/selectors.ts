// Kubernetes label selectors.
import type { LabelSelector } from "../api/resources.js";

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const value = labels[expr.key];
    const values = expr.values ?? [];
    switch (expr.operator) {
      case "In":
        if (value === undefined || !values.includes(value)) return false;
        break;
      case "NotIn":
        if (value !== undefined && values.includes(value)) return false;
        break;
      case "Exists":
        if (value === undefined) return false;
        break;
      case "DoesNotExist":
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Every key/value of `subset` is in `labels` (Istio workload selectors: matchLabels only). */
export function labelsContain(labels: Record<string, string>, subset: Record<string, string>): boolean {
  for (const k in subset) if (labels[k] !== subset[k]) return false;
  return true;
}
