// Capture: is a pod's traffic redirected into ztunnel? Decided by istio-cni, not istiod
// (spec/control-plane.md §2; cni/pkg/util/enablement_selector.go, podutil.go).
import { Annotations, Labels } from "../api/labels.js";
import type { MeshOptions, WorkloadInput } from "./types.js";

export interface CaptureDecision {
  captured: boolean;
  reason: string;
}

export function decideCapture(
  workload: WorkloadInput,
  namespaceLabels: Record<string, string> | undefined,
  options: Pick<MeshOptions, "excludedNamespaces">,
): CaptureDecision {
  if (workload.kind !== "Pod") {
    return { captured: false, reason: `${workload.kind} is outside the cluster; not captured by ztunnel` };
  }
  if (options.excludedNamespaces.includes(workload.namespace)) {
    return {
      captured: false,
      reason: `namespace ${workload.namespace} is excluded from capture (istio-cni excludeNamespaces)`,
    };
  }
  if (workload.hostNetwork)
    return { captured: false, reason: "pod uses hostNetwork; its network namespace cannot be redirected" };
  if (workload.annotations[Annotations.sidecarStatus] !== undefined) {
    return {
      captured: false,
      reason: `pod has a sidecar (annotation ${Annotations.sidecarStatus}); sidecar wins over ambient`,
    };
  }
  const podMode = workload.labels[Labels.dataplaneMode];
  if (podMode === "ambient") return { captured: true, reason: `pod label ${Labels.dataplaneMode}=ambient` };
  const nsMode = namespaceLabels?.[Labels.dataplaneMode];
  if (nsMode === "ambient") {
    if (podMode === "none")
      return { captured: false, reason: `pod label ${Labels.dataplaneMode}=none overrides the namespace's ambient` };
    return { captured: true, reason: `namespace ${workload.namespace} label ${Labels.dataplaneMode}=ambient` };
  }
  if (podMode === "none") return { captured: false, reason: `pod label ${Labels.dataplaneMode}=none` };
  return {
    captured: false,
    reason:
      nsMode === undefined
        ? `neither pod nor namespace ${workload.namespace} has ${Labels.dataplaneMode}=ambient`
        : `namespace ${workload.namespace} label ${Labels.dataplaneMode}=${nsMode} does not enroll pods`,
  };
}

export function spiffeIdentity(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
