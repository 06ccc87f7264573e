// Services and ServiceEntries as the mesh sees them (before binding).
import type { Service, ServiceEntry } from "../api/resources.js";
import type { ServiceState } from "./types.js";

const NO_BINDING = { waypoint: null, decidedBy: null } as const;

export function servicesFromObject(o: Service | ServiceEntry): ServiceState[] {
  const namespace = o.metadata.namespace ?? "default";
  const base = {
    namespace,
    name: o.metadata.name,
    labels: o.metadata.labels ?? {},
    binding: NO_BINDING,
    ingressUseWaypoint: false,
    ingressLabelPresent: false,
    conditions: [],
    source: o.source,
  };
  if (o.kind === "Service") {
    const spec = (o as Service).spec ?? {};
    // ExternalName Services are not part of the workload API at all.
    if (spec.type === "ExternalName") return [];
    const vips = spec.clusterIPs ?? (spec.clusterIP && spec.clusterIP !== "None" ? [spec.clusterIP] : []);
    return [
      {
        ...base,
        kind: "Service",
        key: `Service/${namespace}/${o.metadata.name}`,
        hostnames: [`${o.metadata.name}.${namespace}.svc.cluster.local`],
        vips,
        ports: (spec.ports ?? []).map((p) => ({
          port: p.port,
          targetPort: p.targetPort,
          name: p.name,
          protocol: p.protocol,
        })),
        selector: spec.selector,
      },
    ];
  }
  const spec = (o as ServiceEntry).spec;
  return [
    {
      ...base,
      kind: "ServiceEntry",
      key: `ServiceEntry/${namespace}/${o.metadata.name}`,
      hostnames: [...(spec?.hosts ?? [])],
      vips: [...(spec?.addresses ?? [])],
      ports: (spec?.ports ?? []).map((p) => ({
        port: p.number,
        targetPort: p.targetPort,
        name: p.name,
        protocol: p.protocol,
      })),
      selector: spec?.workloadSelector?.labels,
    },
  ];
}
