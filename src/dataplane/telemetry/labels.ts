// Istio's standard traffic labels (data-plane.md §6 "TCP metric labels"), shared by ztunnel's TCP metrics and the
// waypoint's HTTP metrics so dashboards built for Istio (Kiali, Grafana) read ours unchanged.

export type Reporter = "source" | "destination" | "waypoint";

/** What the metrics know about one side of a connection; anything missing is reported as "unknown". */
export interface PeerInfo {
  workload?: string;
  namespace?: string;
  /** SPIFFE identity with the `spiffe://` prefix, as Istio reports it. */
  principal?: string;
  app?: string;
  version?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  cluster?: string;
}

export interface ServiceInfo {
  /** The FQDN, e.g. reviews.default.svc.cluster.local. */
  hostname: string;
  name: string;
  namespace: string;
}

const PEER_FIELDS = [
  ["workload", "workload"],
  ["workload_namespace", "namespace"],
  ["principal", "principal"],
  ["app", "app"],
  ["version", "version"],
  ["canonical_service", "canonicalService"],
  ["canonical_revision", "canonicalRevision"],
  ["cluster", "cluster"],
] as const satisfies ReadonlyArray<readonly [string, keyof PeerInfo]>;

/** Every label of the standard set, in Istio's order: reporter, source_*, destination_*, then the rest. */
export const TRAFFIC_LABEL_NAMES = [
  "reporter",
  ...PEER_FIELDS.map(([l]) => `source_${l}`),
  ...PEER_FIELDS.map(([l]) => `destination_${l}`),
  "destination_service",
  "destination_service_name",
  "destination_service_namespace",
  "request_protocol",
  "response_flags",
  "connection_security_policy",
] as const;

export type TrafficLabelName = (typeof TRAFFIC_LABEL_NAMES)[number];
export type TrafficLabels = Record<TrafficLabelName, string>;

export const UNKNOWN = "unknown";

export interface TrafficLabelInput {
  reporter: Reporter;
  source: PeerInfo;
  destination: PeerInfo;
  service?: ServiceInfo;
  /** "tcp", "http", "grpc". */
  protocol: string;
  /** "-" when nothing went wrong; else DENY, CONNECT, ... */
  responseFlags: string;
  /** mutual_tls when the hop that reached the reporter was mTLS, else unknown. */
  security: "mutual_tls" | "unknown";
}

export function trafficLabels(i: TrafficLabelInput): TrafficLabels {
  const out: Record<string, string> = { reporter: i.reporter };
  for (const [label, field] of PEER_FIELDS) out[`source_${label}`] = i.source[field] || UNKNOWN;
  for (const [label, field] of PEER_FIELDS) out[`destination_${label}`] = i.destination[field] || UNKNOWN;
  out.destination_service = i.service?.hostname || UNKNOWN;
  out.destination_service_name = i.service?.name || UNKNOWN;
  out.destination_service_namespace = i.service?.namespace || UNKNOWN;
  out.request_protocol = i.protocol;
  out.response_flags = i.responseFlags;
  out.connection_security_policy = i.security;
  return out as TrafficLabels;
}
