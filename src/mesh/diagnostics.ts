// Analyzers over the derived mesh: Istio's (replaying the conditions istiod would write, IST0171, and the
// ambient-relevant ones of spec/control-plane.md §10) plus Ambit's own for what Istio does not catch.
import { Codes } from "../api/codes.js";
import type { Diagnostic } from "../api/diagnostic.js";
import { resourceName } from "../api/diagnostic.js";
import { Labels } from "../api/labels.js";
import type { Condition, Gateway, HTTPRoute, KubeObject, SourceRef, TargetedSpec } from "../api/resources.js";
import { ZTUNNEL_ACCEPTED } from "./conditions.js";
import type { MeshModel } from "./model.js";
import { labelsContain } from "./selectors.js";
import { waypointListenerProblem } from "./waypoints.js";

const NEGATIVE_CONDITION_TYPES = new Set([
  "istio.io/WaypointBound",
  "ZtunnelAccepted",
  "WaypointAccepted",
  "Accepted",
  "Programmed",
  "ResolvedRefs",
]);
const KNOWN_WAYPOINT_FOR = new Set(["service", "workload", "all", "none"]);

export function analyze(model: MeshModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  conditionDiagnostics(model, out);
  namespaceDiagnostics(model, out);
  waypointDiagnostics(model, out);
  workloadDiagnostics(model, out);
  policyDiagnostics(model, out);
  routeDiagnostics(model, out);
  return out;
}

function at(source: SourceRef | undefined, field?: string): Pick<Diagnostic, "file" | "line"> {
  if (!source) return {};
  return { file: source.file, line: (field && source.fieldLines?.get(field)) || source.line };
}

function negative(c: Condition): boolean {
  if (!NEGATIVE_CONDITION_TYPES.has(c.type)) return false;
  return c.status === "False" || (c.type === "WaypointAccepted" && c.reason === "PartiallyInvalid");
}

function conditionMessage(c: Condition): string {
  return `A condition with a negative status is present: type=${c.type}, reason=${c.reason}, message=${c.message}.`;
}

/** IST0171 NegativeConditionStatus over what istiod would write. */
function conditionDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  const report = (
    resource: string,
    conditions: ReadonlyArray<Condition>,
    source: SourceRef | undefined,
    field: (c: Condition) => string,
  ) => {
    for (const c of conditions.filter(negative)) {
      out.push({
        level: "Warning",
        code: Codes.NegativeConditionStatus,
        resource,
        message: conditionMessage(c),
        ...at(source, field(c)),
      });
    }
  };
  const labelField = () => `metadata.labels.${Labels.useWaypoint}`;
  for (const s of model.services()) report(resourceName(s.kind, s), s.conditions, s.source, labelField);
  for (const w of model.workloads()) {
    if (w.kind === "WorkloadEntry") report(resourceName(w.kind, w), w.conditions, w.source, labelField);
  }
  for (const p of model.policies()) {
    report(resourceName(p.kind, p), p.conditions, p.object.source, (c) =>
      c.type === ZTUNNEL_ACCEPTED ? "spec.rules" : "spec.targetRefs",
    );
  }
}

function namespaceDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  for (const ns of model.objectsOf("Namespace")) {
    const labels = ns.metadata.labels ?? {};
    const mode = labels[Labels.dataplaneMode];
    if (mode === undefined) continue;
    const injection = labels[Labels.istioInjection];
    const rev = labels[Labels.revision];
    if (injection === "enabled" || (rev !== undefined && injection === undefined)) {
      out.push({
        level: "Warning",
        code: Codes.NamespaceMultipleInjectionLabels,
        resource: resourceName("Namespace", ns.metadata),
        message: `The namespace has both new and legacy injection labels. Run 'kubectl label namespace ${ns.metadata.name} ${injection !== undefined ? Labels.istioInjection : Labels.revision}-' or 'kubectl label namespace ${ns.metadata.name} ${Labels.dataplaneMode}-'`,
        ...at(ns.source, "metadata.labels"),
      });
    }
    if (mode !== "ambient" && mode !== "none") {
      out.push({
        level: "Warning",
        code: Codes.UnknownDataplaneMode,
        resource: resourceName("Namespace", ns.metadata),
        message: `label ${Labels.dataplaneMode}=${JSON.stringify(mode)} is neither "ambient" nor "none" (values are case-sensitive); pods in this namespace are not captured`,
        ...at(ns.source, `metadata.labels.${Labels.dataplaneMode}`),
      });
    }
  }
  // IST0102 for namespaces that hold workloads none of which is in the mesh.
  for (const ns of model.namespaces()) {
    if (ns === model.options.rootNamespace || model.options.excludedNamespaces.includes(ns)) continue;
    const pods = model.workloadsInNamespace(ns).filter((w) => w.kind === "Pod");
    if (pods.length === 0 || pods.some((w) => w.captured)) continue;
    const obj = model.object("Namespace", undefined, ns);
    if (obj?.metadata.labels?.[Labels.dataplaneMode] !== undefined) continue;
    out.push({
      level: "Info",
      code: Codes.NamespaceNotInjected,
      resource: `Namespace ${ns}`,
      message: `The namespace is not enabled for the ambient mesh. Run 'kubectl label namespace ${ns} ${Labels.dataplaneMode}=ambient' to add its pods to the mesh, or 'kubectl label namespace ${ns} ${Labels.dataplaneMode}=none' to mark it as not needing it.`,
      ...at(obj?.source),
    });
  }
}

function waypointDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  for (const w of model.waypoints()) {
    const resource = resourceName("Gateway", w);
    if (w.trafficTypeLabel !== undefined && !KNOWN_WAYPOINT_FOR.has(w.trafficTypeLabel)) {
      out.push({
        level: "Warning",
        code: Codes.UnknownWaypointFor,
        resource,
        message: `label ${Labels.waypointFor}=${JSON.stringify(w.trafficTypeLabel)} is not one of service, workload, all, none; this waypoint accepts no bindings`,
        ...at(w.source, `metadata.labels.${Labels.waypointFor}`),
      });
    }
    if (!w.meshManaged) continue;
    const gw = model.object<Gateway>("Gateway", w.namespace, w.name);
    const problem = gw ? waypointListenerProblem(gw) : undefined;
    if (problem) {
      out.push({
        level: "Warning",
        code: Codes.WaypointListenerInvalid,
        resource,
        message: `listener not accepted (UnsupportedProtocol): ${problem}`,
        ...at(w.source, "spec.listeners"),
      });
    }
    if (
      w.ready &&
      model.servicesBoundTo(w).length === 0 &&
      model.workloadsBoundTo(w).length === 0 &&
      !policyTargets(model, w)
    ) {
      out.push({
        level: "Info",
        code: Codes.UnusedWaypoint,
        resource,
        message: `no Service, ServiceEntry or workload uses this waypoint; label a namespace or service with ${Labels.useWaypoint}: ${w.name}`,
        ...at(w.source),
      });
    }
  }
}

function policyTargets(model: MeshModel, w: { namespace: string; name: string }): boolean {
  return model.policies().some((p) => p.attachedTo.includes(`Gateway/${w.namespace}/${w.name}`));
}

function workloadDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  for (const w of model.workloads()) {
    const resource = resourceName(
      w.kind === "ServiceEntryEndpoint" ? "ServiceEntry" : w.kind,
      w.kind === "ServiceEntryEndpoint" ? { namespace: w.namespace, name: w.serviceEntry ?? w.name } : w,
    );
    if (w.labels[Labels.useWaypointNamespace] !== undefined && w.labels[Labels.useWaypoint] === undefined) {
      out.push({
        level: "Warning",
        code: Codes.UseWaypointNamespaceIgnored,
        resource,
        message: `label ${Labels.useWaypointNamespace} has no effect without ${Labels.useWaypoint} on the same object`,
        ...at(w.source),
      });
    }
    const mode = w.labels[Labels.dataplaneMode];
    if (mode !== undefined && mode !== "ambient" && mode !== "none") {
      out.push({
        level: "Warning",
        code: Codes.UnknownDataplaneMode,
        resource,
        message: `label ${Labels.dataplaneMode}=${JSON.stringify(mode)} is neither "ambient" nor "none" (values are case-sensitive)`,
        ...at(w.source),
      });
    }
    // Istio writes no status on Pods, so a pod's own binding error is invisible there; say it here.
    if (w.kind === "Pod" && w.binding.decidedBy === "object" && w.binding.error) {
      const reason = w.binding.error.reason;
      out.push({
        level: "Warning",
        code: reason === "UnsupportedTrafficType" ? Codes.PodWaypointWrongTrafficType : Codes.PodWaypointUnresolved,
        resource,
        message:
          reason === "UnsupportedTrafficType"
            ? `pod asks for waypoint ${w.binding.requested} with ${Labels.useWaypoint}, but that waypoint only accepts ${model.waypoint(...(w.binding.requested?.split("/") as [string, string]))?.trafficType ?? "service"} traffic; label the waypoint ${Labels.waypointFor}: workload (or all), or remove the pod label. Traffic to this pod's IP skips L7 policy.`
            : `pod's ${Labels.useWaypoint} does not resolve: ${w.binding.error.message}. Traffic to this pod's IP goes without a waypoint (the namespace label is not used as a fallback).`,
        ...at(w.source),
      });
    }
  }
  for (const s of model.services()) {
    if (s.labels[Labels.useWaypointNamespace] !== undefined && s.labels[Labels.useWaypoint] === undefined) {
      out.push({
        level: "Warning",
        code: Codes.UseWaypointNamespaceIgnored,
        resource: resourceName(s.kind, s),
        message: `label ${Labels.useWaypointNamespace} has no effect without ${Labels.useWaypoint} on the same object`,
        ...at(s.source),
      });
    }
  }
}

function policyDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  const gatewayPods = model.workloads().filter((w) => w.kind === "Pod" && w.labels[Labels.gatewayName] !== undefined);
  for (const p of model.policies()) {
    const obj = p.object as KubeObject<TargetedSpec>;
    const spec = obj.spec ?? {};
    const resource = resourceName(p.kind, p);
    for (const r of p.attachment.refs) {
      if (r.ref.kind === "Service" || r.ref.kind === "ServiceEntry") {
        if (r.reason === "AncestorNotBound") {
          out.push({
            level: "Warning",
            code: Codes.PolicyEnforcedNowhere,
            resource,
            message: `targets ${r.ref.kind} ${p.namespace}/${r.ref.name}, which is not bound to a waypoint, so this targetRef is enforced nowhere (ztunnel ignores targetRef policies). Label the ${r.ref.kind} or its namespace with ${Labels.useWaypoint}.`,
            ...at(obj.source, "spec.targetRefs"),
          });
        }
      }
    }
    const zt = p.conditions.find((c) => c.type === ZTUNNEL_ACCEPTED);
    if (zt?.reason === "UnsupportedValue" && zt.status === "True") {
      out.push({
        level: "Warning",
        code: Codes.SelectorPolicyWithHttpFields,
        resource,
        message: zt.message.trim(),
        ...at(obj.source, "spec.rules"),
      });
    }
    if (spec.selector && (p.kind === "RequestAuthentication" || p.kind === "WasmPlugin")) {
      out.push({
        level: "Warning",
        code: Codes.PolicyIgnoredByWaypoint,
        resource,
        message: `${p.kind} with a selector is ignored by waypoints and ztunnel has no L7; use targetRefs to a waypoint Gateway or Service`,
        ...at(obj.source, "spec.selector"),
      });
    }
    const matchLabels = spec.selector?.matchLabels;
    if (spec.selector && !spec.targetRef && matchLabels) {
      const gw = gatewayPods.find((w) => w.namespace === p.namespace && labelsContain(w.labels, matchLabels));
      if (gw) {
        out.push({
          level: "Warning",
          code: Codes.IneffectiveSelector,
          resource,
          message: `Ineffective selector on Kubernetes Gateway ${gw.labels[Labels.gatewayName]}. Use the TargetRef field instead.`,
          ...at(obj.source, "spec.selector"),
        });
      }
      if (p.kind === "AuthorizationPolicy") {
        const inScope =
          p.namespace === model.options.rootNamespace ? model.workloads() : model.workloadsInNamespace(p.namespace);
        if (!inScope.some((w) => w.kind === "Pod" && w.captured && labelsContain(w.labels, matchLabels))) {
          out.push({
            level: "Warning",
            code: Codes.NoMatchingWorkloadsFound,
            resource,
            message: `No matching workloads for this resource with the following labels: ${Object.entries(matchLabels)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")}`,
            ...at(obj.source, "spec.selector"),
          });
        }
      }
    }
  }
}

/** GAMMA routes (parentRefs to a Service or ServiceEntry) only take effect in a waypoint (gateway/conditions.go). */
function routeDiagnostics(model: MeshModel, out: Diagnostic[]): void {
  for (const route of model.objectsOf<HTTPRoute>("HTTPRoute")) {
    const resource = resourceName("HTTPRoute", route.metadata);
    const routeNs = route.metadata.namespace ?? "default";
    for (const ref of route.spec?.parentRefs ?? []) {
      const kind = ref.kind ?? "Gateway";
      const group = ref.group ?? "gateway.networking.k8s.io";
      const isService = kind === "Service" && (group === "" || group === "core");
      const isServiceEntry = kind === "ServiceEntry" && group === "networking.istio.io";
      if (!isService && !isServiceEntry) continue;
      const ns = ref.namespace ?? routeNs;
      const parent = model.service(kind as "Service" | "ServiceEntry", ns, ref.name);
      if (!parent) {
        out.push({
          level: "Warning",
          code: Codes.NegativeConditionStatus,
          resource,
          message: conditionMessage({
            type: "Accepted",
            status: "False",
            reason: "NoMatchingParent",
            message: `parent service: "${ref.name}" not found`,
          }),
          ...at(route.source),
        });
        continue;
      }
      const label = (labels: Record<string, string> | undefined) => {
        const v = labels?.[Labels.useWaypoint];
        return v !== undefined && v.toLowerCase() !== "none";
      };
      if (!label(parent.labels) && !label(model.namespaceLabels(ns))) {
        out.push({
          level: "Warning",
          code: Codes.RouteNotRespected,
          resource,
          message: `${Labels.useWaypoint} label missing from parent and parent namespace; in ambient mode, route will not be respected (parent ${kind} ${ns}/${ref.name})`,
          ...at(route.source),
        });
      }
    }
  }
}
