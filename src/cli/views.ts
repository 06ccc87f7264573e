// Shared questions the CLI asks of the model: which services select a workload, which policies apply where.
import type { MeshModel } from "../mesh/model.js";
import { labelsContain } from "../mesh/selectors.js";
import type { PolicyState, ServiceState, Waypoint, Workload } from "../mesh/types.js";

export function servicesSelecting(model: MeshModel, w: Workload): ServiceState[] {
  return model
    .services()
    .filter(
      (s) =>
        s.kind === "Service" &&
        s.namespace === w.namespace &&
        s.selector &&
        Object.keys(s.selector).length > 0 &&
        labelsContain(w.labels, s.selector),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function endpointsOf(model: MeshModel, s: ServiceState): Workload[] {
  if (s.kind === "ServiceEntry") {
    const inline = model
      .workloadsInNamespace(s.namespace)
      .filter((w) => w.kind === "ServiceEntryEndpoint" && w.serviceEntry === s.name);
    if (!s.selector) return inline;
    return [
      ...inline,
      ...model
        .workloadsInNamespace(s.namespace)
        .filter((w) => w.kind !== "ServiceEntryEndpoint" && labelsContain(w.labels, s.selector ?? {})),
    ];
  }
  if (!s.selector || Object.keys(s.selector).length === 0) return [];
  return model
    .workloadsInNamespace(s.namespace)
    .filter((w) => w.kind === "Pod" && labelsContain(w.labels, s.selector ?? {}));
}

/** Policies the destination ztunnel enforces for connections to `w` (scope GLOBAL, its NAMESPACE, matching selectors). */
export function ztunnelPoliciesFor(model: MeshModel, w: Workload): PolicyState[] {
  const root = model.options.rootNamespace;
  return model.policies().filter((p) =>
    p.attachedTo.some((a) => {
      if (a === "ztunnel:GLOBAL") return true;
      if (a === `ztunnel:NAMESPACE:${w.namespace}`) return true;
      if (!a.startsWith("ztunnel:WORKLOAD_SELECTOR:")) return false;
      if (p.namespace !== w.namespace && p.namespace !== root) return false;
      const labels = (p.object.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
        ?.matchLabels;
      return labels !== undefined && labelsContain(w.labels, labels);
    }),
  );
}

/** Policies a waypoint enforces for traffic to `service` (or, with no service, for workload-addressed traffic). */
export function waypointPoliciesFor(model: MeshModel, wp: Waypoint, service?: ServiceState): PolicyState[] {
  return model
    .policies()
    .filter((p) =>
      p.attachedTo.some(
        (a) =>
          a === `Gateway/${wp.namespace}/${wp.name}` ||
          (a === "GatewayClass/istio-waypoint" && wp.meshManaged) ||
          (service !== undefined && a === `${service.kind}/${service.namespace}/${service.name}`),
      ),
    );
}

export function policyAction(p: PolicyState): string {
  if (p.kind !== "AuthorizationPolicy") return "-";
  const action = (p.object.spec as { action?: string } | undefined)?.action ?? "ALLOW";
  return action.charAt(0) + action.slice(1).toLowerCase();
}

export function describeAttachment(a: string): string {
  if (a === "ztunnel:GLOBAL") return "ztunnel (Global)";
  if (a.startsWith("ztunnel:NAMESPACE:")) return `ztunnel (Namespace ${a.slice("ztunnel:NAMESPACE:".length)})`;
  if (a.startsWith("ztunnel:WORKLOAD_SELECTOR:")) {
    const [ns, labels] = a.slice("ztunnel:WORKLOAD_SELECTOR:".length).split(":");
    return `ztunnel (WorkloadSelector ${ns}: ${labels || "<no labels>"})`;
  }
  if (a.startsWith("Gateway/")) return `waypoint ${a.slice("Gateway/".length)}`;
  if (a.startsWith("GatewayClass/")) return `every waypoint (GatewayClass ${a.slice("GatewayClass/".length)})`;
  const [kind, ns, name] = a.split("/");
  return `${kind} ${ns}/${name} on its waypoint`;
}

/** Policies a destination ztunnel enforces for a workload known only by namespace and labels (`check --request`). */
export function ztunnelPoliciesAt(
  model: MeshModel,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): PolicyState[] {
  const root = model.options.rootNamespace;
  return model.policies().filter((p) =>
    p.attachedTo.some((a) => {
      if (a === "ztunnel:GLOBAL" || a === `ztunnel:NAMESPACE:${namespace}`) return true;
      if (!a.startsWith("ztunnel:WORKLOAD_SELECTOR:")) return false;
      if (p.namespace !== namespace && p.namespace !== root) return false;
      const wanted = (p.object.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
        ?.matchLabels;
      return wanted !== undefined && labelsContain(labels, wanted);
    }),
  );
}
