// Istio's standard metric labels for one request or stream at the waypoint (policy.md §4.2, data-plane.md §6):
// source_* from the HBONE peer identity (and the workload at the source address, or the CONNECT's baggage),
// destination_* from the chosen endpoint and service. Unknown values are "unknown".

import { tryParseSpiffeId } from "../../identity/spiffe.js";
import type { WaypointEndpoint } from "../../xds/waypoint-config.js";
import type { TunnelInfo } from "../hbone/server.js";
import type { Labels } from "./metrics.js";
import type { Destination, WaypointState } from "./state.js";

const U = "unknown";

/** Deployment name from a pod name (`reviews-v1-5b9c7d8f4-abcde` → `reviews-v1`), as Istio's workload label. */
export function workloadName(podName: string): string {
  const m = /^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(podName);
  return m ? m[1]! : podName;
}

function canonical(labels: Record<string, string>, fallback: string): [string, string] {
  return [
    labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels.app ?? fallback,
    labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels.version ?? "latest",
  ];
}

function parseBaggage(value: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (Array.isArray(value) ? value.join(",") : (value ?? "")).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** source_* labels: computed once per tunnel. */
export function sourceLabels(tunnel: TunnelInfo, state: WaypointState): Labels {
  const id = tryParseSpiffeId(tunnel.peer);
  const w = state.workloadAt(tunnel.remoteAddress);
  const b = parseBaggage(tunnel.headers.baggage);
  const name = w
    ? workloadName(w.name)
    : (b["k8s.deployment.name"] ?? b["k8s.pod.name"] ?? b["k8s.job.name"] ?? b["k8s.cronjob.name"] ?? U);
  const [cs, cr] = w ? canonical(w.labels, name) : [b["service.name"] ?? name, b["service.version"] ?? "latest"];
  return {
    source_workload: name,
    source_canonical_service: cs,
    source_canonical_revision: cr,
    source_workload_namespace: w?.namespace ?? b["k8s.namespace.name"] ?? id?.namespace ?? U,
    source_principal: tunnel.peer || U,
    source_app: w?.labels.app ?? U,
    source_version: w?.labels.version ?? U,
    source_cluster: b["k8s.cluster.name"] ?? "Kubernetes",
  };
}

export function destinationLabels(dest: Destination, ep: WaypointEndpoint | undefined): Labels {
  const svc = dest.kind === "service" ? dest.service.service : undefined;
  const name = ep ? workloadName(ep.name) : U;
  const [cs, cr] = ep ? canonical(ep.labels, name) : [U, U];
  return {
    destination_workload: name,
    destination_workload_namespace: ep?.namespace ?? U,
    destination_principal: ep?.identity ?? U,
    destination_app: ep?.labels.app ?? U,
    destination_version: ep?.labels.version ?? U,
    destination_service: svc?.hostname ?? (ep ? ep.address : U),
    destination_canonical_service: cs,
    destination_canonical_revision: cr,
    destination_service_name: svc?.name ?? U,
    destination_service_namespace: svc?.namespace ?? U,
    destination_cluster: "Kubernetes",
  };
}
