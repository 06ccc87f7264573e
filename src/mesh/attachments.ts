// Where each policy is enforced: waypoint attachment through targetRefs, or a ztunnel scope
// (spec/control-plane.md §6 WaypointAccepted, §7 attachment, §8.2 scopes; policyattachment.go, policies.go).
import { WAYPOINT_GATEWAY_CLASS } from "../api/labels.js";
import type {
  AuthorizationPolicy,
  Condition,
  GatewayClass,
  KubeObject,
  PolicyTargetReference,
  TargetedSpec,
} from "../api/resources.js";
import { flattenWaypointAccepted, type RefResult } from "./conditions.js";
import type { ServiceState, Waypoint } from "./types.js";
import { isMeshManagedClass } from "./waypoints.js";

export interface AttachmentContext {
  rootNamespace: string;
  waypoint(namespace: string, name: string): Waypoint | undefined;
  service(kind: "Service" | "ServiceEntry", namespace: string, name: string): ServiceState | undefined;
  gatewayClass(name: string): GatewayClass | undefined;
  /** Waypoints that serve a namespace-wide Telemetry: all in the namespace, plus those bound to its services. */
  waypointsForNamespace(namespace: string): Waypoint[];
  allWaypoints(): Waypoint[];
  /** What ztunnel does with a selector/namespace AuthorizationPolicy (the policy engine's L4 translation). */
  ztunnelTranslation(policy: AuthorizationPolicy): { sent: boolean; condition: Condition };
}

export interface Attachment {
  attachedTo: string[];
  conditions: Condition[];
  /** Per-ref outcome for `describe` and diagnostics. */
  refs: Array<RefResult & { ref: PolicyTargetReference }>;
}

/** `targetRefs` wins over the legacy singular `targetRef`. */
export function targetRefsOf(spec: TargetedSpec | undefined): PolicyTargetReference[] {
  if (spec?.targetRefs && spec.targetRefs.length > 0) return spec.targetRefs;
  return spec?.targetRef ? [spec.targetRef] : [];
}

export function ztunnelScope(policy: KubeObject<TargetedSpec>, rootNamespace: string): string {
  const ns = policy.metadata.namespace ?? "default";
  const selector = policy.spec?.selector;
  if (selector) {
    const labels = Object.entries(selector.matchLabels ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    return `ztunnel:WORKLOAD_SELECTOR:${ns}:${labels}`;
  }
  return ns === rootNamespace ? "ztunnel:GLOBAL" : `ztunnel:NAMESPACE:${ns}`;
}

export function computeAttachment(policy: KubeObject<TargetedSpec>, ctx: AttachmentContext): Attachment {
  const ns = policy.metadata.namespace ?? "default";
  const refs = targetRefsOf(policy.spec);
  if (refs.length === 0) return untargeted(policy, ns, ctx);

  const results = refs.map((ref) => ({ ...refResult(ref, ns, ctx), ref }));
  const attachedTo = new Set<string>();
  for (const r of results) {
    const kind = r.ref.kind;
    if (kind === "GatewayClass") {
      // Runtime attachment needs the root namespace and the literal class name, whatever the status says (§11.7).
      if (ns === ctx.rootNamespace && r.ref.name === WAYPOINT_GATEWAY_CLASS)
        attachedTo.add(`GatewayClass/${r.ref.name}`);
    } else if (r.bound) {
      attachedTo.add(`${kind}/${ns}/${r.ref.name}`);
    }
  }
  const conditions: Condition[] = [];
  if (policy.kind === "AuthorizationPolicy") {
    const c = flattenWaypointAccepted(results, policy.metadata.generation);
    if (c) conditions.push(c);
  }
  return { attachedTo: [...attachedTo].sort(), conditions, refs: results };
}

function refResult(ref: PolicyTargetReference, policyNamespace: string, ctx: AttachmentContext): RefResult {
  const group = ref.group === undefined || ref.group === "" ? "core" : ref.group;
  const key = `${ref.namespace || policyNamespace}/${ref.name}`;
  const ancestor = `${ref.kind}.${group}:${key}`;
  switch (ref.kind) {
    case "Gateway": {
      const wp = ctx.waypoint(ref.namespace || policyNamespace, ref.name);
      return wp?.ready
        ? { bound: true, reason: "Accepted", message: `bound to ${wp.namespace}/${wp.name}`, ancestor }
        : { bound: false, reason: "TargetNotFound", message: "not bound", ancestor };
    }
    case "Service":
    case "ServiceEntry": {
      const svc = ctx.service(ref.kind, ref.namespace || policyNamespace, ref.name);
      if (!svc)
        return { bound: false, reason: "TargetNotFound", message: `${ref.kind} ${key} was not found`, ancestor };
      const wp = svc.binding.waypoint;
      return wp
        ? { bound: true, reason: "Accepted", message: `bound to ${wp.namespace}/${wp.name}`, ancestor }
        : {
            bound: false,
            reason: "AncestorNotBound",
            message: `${ref.kind} ${key} is not bound to a waypoint`,
            ancestor,
          };
    }
    case "GatewayClass": {
      if (policyNamespace !== ctx.rootNamespace) {
        return {
          bound: false,
          reason: "Invalid",
          message: `AuthorizationPolicy must be in the root namespace \`${ctx.rootNamespace}\` when referencing a GatewayClass`,
          ancestor,
        };
      }
      const cls = ctx.gatewayClass(ref.name);
      const exists = cls !== undefined || ref.name === WAYPOINT_GATEWAY_CLASS;
      if (!exists) return { bound: false, reason: "TargetNotFound", message: "not bound", ancestor };
      if (!isMeshManagedClass(ref.name, cls)) {
        return {
          bound: false,
          reason: "Invalid",
          message: "GatewayClass must use controller name `istio.io/mesh-controller` for waypoints",
          ancestor,
        };
      }
      return { bound: true, reason: "Accepted", message: `bound to ${ref.name}`, ancestor };
    }
    default:
      return { bound: false, reason: "unknown", message: "not bound", ancestor };
  }
}

function untargeted(policy: KubeObject<TargetedSpec>, ns: string, ctx: AttachmentContext): Attachment {
  switch (policy.kind) {
    case "AuthorizationPolicy": {
      const { sent, condition } = ctx.ztunnelTranslation(policy as AuthorizationPolicy);
      return { attachedTo: sent ? [ztunnelScope(policy, ctx.rootNamespace)] : [], conditions: [condition], refs: [] };
    }
    case "PeerAuthentication":
      return { attachedTo: [ztunnelScope(policy, ctx.rootNamespace)], conditions: [], refs: [] };
    case "Telemetry": {
      // Namespace-wide Telemetry does reach waypoints (model/telemetry.go); selector Telemetry does not.
      if (policy.spec?.selector) return { attachedTo: [], conditions: [], refs: [] };
      const waypoints = ns === ctx.rootNamespace ? ctx.allWaypoints() : ctx.waypointsForNamespace(ns);
      const attachedTo = [...new Set(waypoints.map((w) => `Gateway/${w.namespace}/${w.name}`))].sort();
      return { attachedTo, conditions: [], refs: [] };
    }
    default:
      // RequestAuthentication and WasmPlugin without targetRefs: waypoints ignore them and ztunnel has no L7.
      return { attachedTo: [], conditions: [], refs: [] };
  }
}
