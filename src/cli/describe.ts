// `ambit describe pod|service`: the ambient-aware describe istioctl lacks. Says what the mesh decided for one
// object, and why: capture, identity, the waypoint for service- and pod-addressed traffic and the label that
// decided, the policies enforced at each hop, conditions and findings.
import type { Diagnostic } from "../api/diagnostic.js";
import { Labels } from "../api/labels.js";
import { AmbitError } from "../errors.js";
import type { MeshModel } from "../mesh/model.js";
import type { Binding, PolicyState, ServiceState, Workload } from "../mesh/types.js";
import { formatDiagnostic } from "./analyze.js";
import { endpointsOf, servicesSelecting, waypointPoliciesFor, ztunnelPoliciesFor } from "./views.js";

export function findPod(model: MeshModel, namespace: string, name: string): Workload {
  const pods = model.workloadsInNamespace(namespace).filter((w) => w.kind === "Pod");
  const pod =
    pods.find((w) => w.name === name) ??
    pods.filter((w) => w.owner === name).sort((a, b) => a.name.localeCompare(b.name))[0];
  if (!pod) {
    const known = pods.map((w) => w.name).sort();
    throw new AmbitError(
      "AMBIT_CLI_NOT_FOUND",
      `pod ${namespace}/${name} not found${known.length ? `; pods in ${namespace}: ${known.join(", ")}` : ""}`,
    );
  }
  return pod;
}

export function findService(model: MeshModel, namespace: string, name: string): ServiceState {
  const svc = model.service("Service", namespace, name) ?? model.service("ServiceEntry", namespace, name);
  if (!svc) throw new AmbitError("AMBIT_CLI_NOT_FOUND", `service ${namespace}/${name} not found`);
  return svc;
}

export function explainBinding(b: Binding, forWhat: "service" | "workload", ownKind: string): string {
  const where =
    b.decidedBy === "object" ? `${ownKind} label ${Labels.useWaypoint}` : `namespace label ${Labels.useWaypoint}`;
  if (b.waypoint) return `${b.waypoint.namespace}/${b.waypoint.name} (${where}=${b.waypoint.name})`;
  if (b.requested === "none") return `none (${where}=none opts out)`;
  if (b.error && b.silent) {
    return `none (the namespace's waypoint ${b.requested} does not accept ${forWhat} traffic, so traffic addressed to the ${ownKind.toLowerCase()} goes without it)`;
  }
  if (b.error) {
    const fallback = b.decidedBy === "object" ? "; the namespace label is not used as a fallback" : "";
    return `none: ${b.error.message} (${where})${fallback}`;
  }
  return `none (no ${Labels.useWaypoint} label on the ${forWhat === "service" ? "service" : ownKind.toLowerCase()} or its namespace)`;
}

function policyLine(p: PolicyState): string {
  const action =
    p.kind === "AuthorizationPolicy"
      ? ` [${(p.object.spec as { action?: string } | undefined)?.action ?? "ALLOW"}]`
      : "";
  const where = p.object.source ? ` (${p.object.source.file}:${p.object.source.line})` : "";
  return `${p.kind} ${p.namespace}/${p.name}${action}${where}`;
}

function findingsFor(diagnostics: ReadonlyArray<Diagnostic>, resources: string[]): string[] {
  return diagnostics.filter((d) => resources.includes(d.resource)).map(formatDiagnostic);
}

export function describePod(model: MeshModel, pod: Workload, diagnostics: ReadonlyArray<Diagnostic>): string {
  const lines: string[] = [];
  lines.push(`Pod: ${pod.name}`, `Namespace: ${pod.namespace}`);
  if (pod.owner) lines.push(`Created by: Deployment ${pod.namespace}/${pod.owner}`);
  lines.push(`Service account: ${pod.serviceAccount}`, `Identity: ${pod.identity}`);
  lines.push(`Captured by ztunnel: ${pod.captured ? "yes" : "no"} (${pod.captureReason})`);
  if (pod.waypointInstance)
    lines.push(
      `This pod is an instance of waypoint ${pod.namespace}/${pod.labels[Labels.gatewayName]}; it never uses a waypoint itself.`,
    );
  lines.push(`Waypoint for traffic addressed to this pod's IP: ${explainBinding(pod.binding, "workload", "pod")}`);
  const services = servicesSelecting(model, pod);
  lines.push("Waypoint for traffic addressed to its services:");
  if (services.length === 0) lines.push("  (no Service selects this pod)");
  for (const s of services)
    lines.push(`  ${s.namespace}/${s.name}: ${explainBinding(s.binding, "service", "Service")}`);

  lines.push("Policies enforced:");
  const zt = ztunnelPoliciesFor(model, pod);
  lines.push(
    `  at the destination ztunnel (every connection to this pod${pod.captured ? "" : "; not captured, so none of these apply"}):`,
  );
  if (zt.length === 0) lines.push("    (none: all connections allowed at L4)");
  for (const p of zt) lines.push(`    ${policyLine(p)}`);
  const seen = new Set<string>();
  for (const s of services) {
    const wp = s.binding.waypoint;
    if (!wp) continue;
    const ps = waypointPoliciesFor(model, wp, s);
    lines.push(`  at waypoint ${wp.namespace}/${wp.name} for service ${s.name}:`);
    if (ps.length === 0) lines.push("    (none: all requests allowed at L7)");
    for (const p of ps) lines.push(`    ${policyLine(p)}`);
    seen.add(`${wp.namespace}/${wp.name}`);
  }
  const own = pod.binding.waypoint;
  if (own) {
    const ps = waypointPoliciesFor(model, own);
    lines.push(`  at waypoint ${own.namespace}/${own.name} for traffic to this pod's IP:`);
    if (ps.length === 0) lines.push("    (none: all requests allowed at L7)");
    for (const p of ps) lines.push(`    ${policyLine(p)}`);
  }
  if (services.some((s) => s.binding.waypoint) || own) {
    lines.push("  Note: behind a waypoint, the destination ztunnel sees the waypoint's identity, not the client's.");
  }
  lines.push("Conditions: none (Istio writes no status on Pods)");
  const findings = findingsFor(diagnostics, [
    `Pod ${pod.namespace}/${pod.name}`,
    `Namespace ${pod.namespace}`,
    ...services.map((s) => `Service ${s.namespace}/${s.name}`),
  ]);
  lines.push(`Findings: ${findings.length === 0 ? "none" : ""}`, ...findings.map((f) => `  ${f}`));
  return `${lines.join("\n")}\n`;
}

export function describeService(model: MeshModel, svc: ServiceState, diagnostics: ReadonlyArray<Diagnostic>): string {
  const lines: string[] = [];
  lines.push(`${svc.kind}: ${svc.name}`, `Namespace: ${svc.namespace}`, `Hostnames: ${svc.hostnames.join(", ")}`);
  if (svc.ports.length > 0)
    lines.push(
      `Ports: ${svc.ports.map((p) => `${p.port}${p.targetPort !== undefined ? `->${p.targetPort}` : ""}${p.name ? ` (${p.name})` : ""}`).join(", ")}`,
    );
  lines.push(`Waypoint: ${explainBinding(svc.binding, "service", svc.kind)}`);
  if (svc.binding.waypoint) {
    lines.push(
      `  Traffic addressed to this service goes through waypoint ${svc.binding.waypoint.namespace}/${svc.binding.waypoint.name} (waypoint-for: ${svc.binding.waypoint.trafficType}).`,
    );
    lines.push(
      `  Ingress gateways ${svc.ingressUseWaypoint ? "also send to the waypoint" : `send straight to endpoints (set ${Labels.ingressUseWaypoint}=true to change)`}.`,
    );
  }
  const endpoints = endpointsOf(model, svc);
  lines.push(`Endpoints: ${endpoints.length === 0 ? "none" : ""}`);
  for (const e of endpoints)
    lines.push(`  ${e.kind} ${e.namespace}/${e.name}${e.captured ? " (captured, HBONE)" : " (not captured, TCP)"}`);
  lines.push("Policies enforced:");
  if (svc.binding.waypoint) {
    const ps = waypointPoliciesFor(model, svc.binding.waypoint, svc);
    lines.push(`  at waypoint ${svc.binding.waypoint.namespace}/${svc.binding.waypoint.name}:`);
    if (ps.length === 0) lines.push("    (none: all requests allowed at L7)");
    for (const p of ps) lines.push(`    ${policyLine(p)}`);
  } else {
    const targeting = model
      .policies()
      .filter((p) =>
        p.attachment.refs.some(
          (r) => r.ref.kind === svc.kind && r.ref.name === svc.name && p.namespace === svc.namespace,
        ),
      );
    for (const p of targeting) lines.push(`  NOT enforced (service has no waypoint): ${policyLine(p)}`);
    if (targeting.length === 0)
      lines.push("  (no waypoint: only the destination ztunnel's L4 policies apply to its endpoints)");
  }
  lines.push(`Conditions: ${svc.conditions.length === 0 ? "none" : ""}`);
  for (const c of svc.conditions) lines.push(`  ${c.type}=${c.status} (${c.reason}): ${c.message}`);
  const findings = findingsFor(diagnostics, [`${svc.kind} ${svc.namespace}/${svc.name}`]);
  lines.push(`Findings: ${findings.length === 0 ? "none" : ""}`, ...findings.map((f) => `  ${f}`));
  return `${lines.join("\n")}\n`;
}
