// Istio's label and annotation names, and the rules for their values.

export const Labels = {
  dataplaneMode: "istio.io/dataplane-mode",
  useWaypoint: "istio.io/use-waypoint",
  useWaypointNamespace: "istio.io/use-waypoint-namespace",
  waypointFor: "istio.io/waypoint-for",
  ingressUseWaypoint: "istio.io/ingress-use-waypoint",
  gatewayName: "gateway.networking.k8s.io/gateway-name",
  gatewayManaged: "gateway.istio.io/managed",
  istioInjection: "istio-injection",
  revision: "istio.io/rev",
} as const;

export const Annotations = {
  sidecarStatus: "sidecar.istio.io/status",
  redirection: "ambient.istio.io/redirection",
  dryRun: "istio.io/dry-run",
  waypointInboundBinding: "ambient.istio.io/waypoint-inbound-binding",
} as const;

export const WAYPOINT_GATEWAY_CLASS = "istio-waypoint";
export const MESH_CONTROLLER = "istio.io/mesh-controller";
export const ROOT_NAMESPACE = "istio-system";
export const DEFAULT_TRUST_DOMAIN = "cluster.local";
export const DEFAULT_EXCLUDED_NAMESPACES = ["kube-system"] as const;

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why a label value is not legal in Kubernetes, or undefined when it is. */
export function labelValueError(value: unknown): string | undefined {
  if (typeof value !== "string") return `must be a string, got ${typeof value}`;
  if (value.length > 63) return "must be no more than 63 characters";
  if (!LABEL_VALUE.test(value)) {
    return "must be empty or consist of alphanumeric characters, '-', '_' or '.', and begin and end with an alphanumeric character";
  }
  return undefined;
}

/** Why a label key is not legal in Kubernetes (`[prefix/]name`), or undefined when it is. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return "prefix must be a DNS subdomain";
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', at most 63 characters";
  }
  return undefined;
}

/** Why an object name is not a legal DNS-1123 subdomain, or undefined when it is. */
export function nameError(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "is required";
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', starting and ending with an alphanumeric)";
  }
  return undefined;
}

/** `istio.io/waypoint-for` values; anything else is kept verbatim and behaves like `none`. */
export type TrafficType = "service" | "workload" | "all" | "none";
