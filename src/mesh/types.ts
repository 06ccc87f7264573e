// The derived mesh state: what the control plane concludes from the resources.
import type { Condition, KubeObject, LabelSelector, SourceRef } from "../api/resources.js";

export type Mode = "plan" | "snapshot";

export interface MeshOptions {
  /** `plan`: input without status is what will happen once applied (waypoint Gateways count as ready).
   *  `snapshot`: a dump of a live cluster; status fields are the truth. */
  mode: Mode;
  rootNamespace: string;
  trustDomain: string;
  clusterDomain: string;
  /** Namespaces the CNI never captures (istio-cni `excludeNamespaces`). */
  excludedNamespaces: ReadonlyArray<string>;
}

export const DEFAULT_OPTIONS: MeshOptions = {
  mode: "plan",
  rootNamespace: "istio-system",
  trustDomain: "cluster.local",
  clusterDomain: "cluster.local",
  excludedNamespaces: ["kube-system"],
};

export type WorkloadKind = "Pod" | "WorkloadEntry" | "ServiceEntryEndpoint";

/** A workload as read from its object, before any mesh decision. */
export interface WorkloadInput {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  /** Labels that play the binding object's role (pod labels, WE metadata over spec labels, SE endpoint labels). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  serviceAccount: string;
  ip?: string;
  node?: string;
  hostNetwork: boolean;
  /** For pods made from a Deployment: the Deployment's name. */
  owner?: string;
  /** For ServiceEntry endpoints: the ServiceEntry's name. */
  serviceEntry?: string;
  source?: SourceRef;
}

export interface WaypointKey {
  namespace: string;
  name: string;
}

export interface Waypoint extends WaypointKey {
  gatewayClassName: string;
  /** `istio.io/waypoint-for` as written (Gateway over GatewayClass), or undefined when neither sets it. */
  trafficTypeLabel?: string;
  /** What the waypoint accepts: the label, default `service`; unknown values are kept and accept nothing. */
  trafficType: string;
  ready: boolean;
  /** Hostname form when the Gateway reports one (as ztunnel uses it), else the IP. */
  address: string | null;
  allowedRoutes: AllowedRoutes;
  revision: string;
  programmed: boolean;
  /** True for Gateways of a class whose controller is istio.io/mesh-controller. */
  meshManaged: boolean;
  source?: SourceRef;
}

export type AllowedRoutes = { from: "Same" } | { from: "All" } | { from: "Selector"; selector: LabelSelector };

export type BindingLevel = "object" | "namespace";

export interface BindingError {
  reason: "WaypointIsNotReady" | "AttachmentDenied" | "UnsupportedTrafficType";
  message: string;
}

/** How an object's waypoint was decided, so `describe` can explain it. */
export interface Binding {
  waypoint: Waypoint | null;
  /** Which object's label decided: its own, its namespace's, or none was set. */
  decidedBy: BindingLevel | null;
  /** The label value that decided (`none`, or `<ns>/<name>` of the requested waypoint). */
  requested?: string;
  error?: BindingError;
  /** A binding error that Istio does not report in any status (e.g. on Pods); still worth telling the user. */
  silent?: boolean;
}

export interface Workload extends WorkloadInput {
  key: string;
  captured: boolean;
  captureReason: string;
  identity: string;
  binding: Binding;
  /** Waypoint instances (pods of a waypoint) never get a waypoint. */
  waypointInstance: boolean;
  conditions: Condition[];
}

export interface ServiceState {
  kind: "Service" | "ServiceEntry";
  namespace: string;
  name: string;
  key: string;
  labels: Record<string, string>;
  hostnames: string[];
  vips: string[];
  ports: Array<{ port: number; targetPort?: number | string; name?: string; protocol?: string }>;
  selector?: Record<string, string>;
  binding: Binding;
  ingressUseWaypoint: boolean;
  ingressLabelPresent: boolean;
  conditions: Condition[];
  source?: SourceRef;
}

export interface PolicyState {
  kind: string;
  namespace: string;
  name: string;
  key: string;
  attachedTo: string[];
  conditions: Condition[];
  object: KubeObject;
}

export function workloadKey(kind: WorkloadKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function waypointKeyString(w: WaypointKey): string {
  return `${w.namespace}/${w.name}`;
}
