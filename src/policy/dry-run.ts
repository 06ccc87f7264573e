// `istio.io/dry-run` is parsed like Go's strconv.ParseBool; an unparsable value means *enforced* (policy.md §1.12).

import { Annotations } from "../api/labels.js";

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);

export function isDryRun(annotations: Record<string, string> | undefined): boolean {
  const v = annotations?.[Annotations.dryRun];
  return v !== undefined && TRUE.has(v);
}
