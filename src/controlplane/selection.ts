// Who selects whom, as istiod decides it for WDS: a Service's selector picks the workloads of its namespace
// (Pods only; a ServiceEntry its inline endpoints and, by workloadSelector, pods and WorkloadEntries), and a selector
// AuthorizationPolicy picks workloads of its namespace, or of every namespace from the root namespace (control-plane.md §8.2).
import type { AuthorizationPolicy, Container, Deployment, Pod } from "../api/resources.js";
import type { MeshModel } from "../mesh/model.js";
import { labelsContain } from "../mesh/selectors.js";
import type { ServiceState, Workload } from "../mesh/types.js";

export function serviceSelects(s: ServiceState, w: Workload): boolean {
  if (s.namespace !== w.namespace) return false;
  if (s.kind === "ServiceEntry") {
    if (w.kind === "ServiceEntryEndpoint") return w.serviceEntry === s.name;
    return s.selector !== undefined && labelsContain(w.labels, s.selector);
  }
  return (
    w.kind === "Pod" &&
    s.selector !== undefined &&
    Object.keys(s.selector).length > 0 &&
    labelsContain(w.labels, s.selector)
  );
}

/** The labels a selector-scoped AuthorizationPolicy matches, or undefined when it selects nothing (no selector, or
 *  a selector without matchLabels, which istiod attaches to nothing). */
export function policySelectorLabels(p: AuthorizationPolicy): Record<string, string> | undefined {
  if ((p.spec?.targetRefs?.length ?? 0) > 0 || p.spec?.targetRef) return undefined;
  return p.spec?.selector?.matchLabels;
}

export function policySelects(
  p: AuthorizationPolicy,
  labels: Record<string, string> | undefined,
  w: Workload,
  rootNamespace: string,
): boolean {
  if (labels === undefined) return false;
  const ns = p.metadata.namespace ?? "default";
  return (ns === w.namespace || ns === rootNamespace) && labelsContain(w.labels, labels);
}

/** A workload's named container ports (to resolve a Service's named targetPort), from its Pod or Deployment. */
export function namedPorts(model: MeshModel, w: Workload): Record<string, number> | undefined {
  let containers: Container[] | undefined;
  if (w.kind === "Pod") {
    containers = model.object<Pod>("Pod", w.namespace, w.name)?.spec?.containers;
    if (containers === undefined && w.owner !== undefined) {
      containers = model.object<Deployment>("Deployment", w.namespace, w.owner)?.spec?.template?.spec?.containers;
    }
  }
  let out: Record<string, number> | undefined;
  for (const c of containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === undefined) continue;
      out ??= {};
      out[p.name] = p.containerPort;
    }
  }
  return out;
}
