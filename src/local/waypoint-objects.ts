// The objects istiod's gateway controller makes for a waypoint Gateway (class istio-waypoint): a pod (from a
// Deployment), its ServiceAccount, the Service in front of it on 15008, and the Gateway status it writes back
// (spec/user-needs.md §5.1: `kubectl get gateway` shows the address and Programmed=True).
import { createHash } from "node:crypto";
import { Labels } from "../api/labels.js";
import type { Condition, Gateway, KubeObject, Pod, Service } from "../api/resources.js";

export const WAYPOINT_PORT = 15008;
const MANAGED = "istio.io-mesh-controller";

export function waypointPodName(namespace: string, gateway: string): string {
  const h = createHash("sha256").update(`${namespace}/${gateway}`).digest("hex");
  return `${gateway}-${h.slice(0, 8)}-${h.slice(8, 13)}`;
}

export function waypointPod(namespace: string, gateway: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: waypointPodName(namespace, gateway),
      namespace,
      labels: {
        [Labels.gatewayName]: gateway,
        [Labels.gatewayManaged]: MANAGED,
        [Labels.dataplaneMode]: "none",
      },
    },
    spec: {
      serviceAccountName: gateway,
      // The proxy itself runs inside `ambit up` with its sockets in this netns; this process holds the pod's place.
      containers: [{ name: "istio-proxy", command: ["sleep", "infinity"] }],
    },
  } as Pod;
}

export function waypointServiceAccount(namespace: string, gateway: string): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: gateway, namespace } };
}

export function waypointService(namespace: string, gateway: string, clusterIP?: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: gateway, namespace, labels: { [Labels.gatewayName]: gateway, [Labels.gatewayManaged]: MANAGED } },
    spec: {
      selector: { [Labels.gatewayName]: gateway },
      ports: [{ name: "mesh", port: WAYPOINT_PORT, protocol: "TCP", appProtocol: "all" }],
      ...(clusterIP ? { clusterIP } : {}),
    },
  } as Service;
}

export function waypointHostname(namespace: string, gateway: string, domain = "cluster.local"): string {
  return `${gateway}.${namespace}.svc.${domain}`;
}

/** The status istiod writes once the waypoint's Service has an address. */
export function withWaypointStatus(gw: Gateway, vip: string, domain = "cluster.local"): Gateway {
  const ns = gw.metadata.namespace ?? "default";
  const host = waypointHostname(ns, gw.metadata.name, domain);
  const conditions: Condition[] = [
    { type: "Accepted", status: "True", reason: "Accepted", message: "Resource accepted" },
    {
      type: "Programmed",
      status: "True",
      reason: "Programmed",
      message: `Resource programmed, assigned to service(s) ${host}:${WAYPOINT_PORT}`,
    },
  ];
  return {
    ...gw,
    status: {
      ...(gw.status ?? {}),
      addresses: [
        { type: "IPAddress", value: vip },
        { type: "Hostname", value: host },
      ],
      conditions,
    },
  } as Gateway;
}
