// Objects → workloads: Pods, the pods a Deployment's template yields, WorkloadEntries and inline ServiceEntry
// endpoints (spec/control-plane.md §4 "Per source kind").
import type { Deployment, KubeObject, Pod, ServiceEntry, WorkloadEntry } from "../api/resources.js";
import type { Mode, WorkloadInput } from "./types.js";

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function workloadsFromObject(obj: KubeObject, mode: Mode): WorkloadInput[] {
  switch (obj.kind) {
    case "Pod":
      return podWorkload(obj as Pod, mode);
    case "Deployment":
      // A live snapshot lists the Deployment's real pods; expanding the template would count them twice.
      return mode === "plan" ? deploymentPods(obj as Deployment) : [];
    case "WorkloadEntry":
      return [workloadEntry(obj as WorkloadEntry)];
    case "ServiceEntry":
      return serviceEntryEndpoints(obj as ServiceEntry);
    default:
      return [];
  }
}

function podWorkload(pod: Pod, mode: Mode): WorkloadInput[] {
  const phase = pod.status?.phase;
  if (mode === "snapshot" && (phase === "Succeeded" || phase === "Failed")) return [];
  const spec = pod.spec ?? { containers: [] };
  return [
    {
      kind: "Pod",
      namespace: pod.metadata.namespace ?? "default",
      name: pod.metadata.name,
      labels: pod.metadata.labels ?? {},
      annotations: pod.metadata.annotations ?? {},
      serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? "default",
      ip: pod.status?.podIP,
      node: spec.nodeName,
      hostNetwork: spec.hostNetwork === true,
      owner: podOwner(pod),
      source: pod.source,
    },
  ];
}

/** The workload a pod belongs to, as istiod names it: a ReplicaSet's pods belong to its Deployment (the
 *  ReplicaSet name less the `pod-template-hash`); other controllers by their own name. */
export function podOwner(pod: Pod): string | undefined {
  const hash = pod.metadata.labels?.["pod-template-hash"];
  const ref = pod.metadata.ownerReferences?.find((r) => r.controller !== false) ?? pod.metadata.ownerReferences?.[0];
  if (ref) {
    if (ref.kind === "ReplicaSet" && hash && ref.name.endsWith(`-${hash}`)) return ref.name.slice(0, -hash.length - 1);
    return ref.name;
  }
  // Pods listed without owner references (a dump that dropped them, or Ambit's own runtime) still carry the
  // ReplicaSet's hash in their name: <deployment>-<hash>-<suffix>.
  if (hash) {
    const marker = `-${hash}-`;
    const at = pod.metadata.name.lastIndexOf(marker);
    if (at > 0) return pod.metadata.name.slice(0, at);
  }
  return undefined;
}

/** The pods a Deployment will create, named as the ReplicaSet controller would (`<deploy>-<hash>-<suffix>`). */
export function deploymentPods(deployment: Deployment): WorkloadInput[] {
  const spec = deployment.spec;
  if (!spec) return [];
  const replicas = spec.replicas ?? 1;
  const templateHash = encode(fnv1a(JSON.stringify(spec.template)), 10);
  const podSpec = spec.template.spec;
  const out: WorkloadInput[] = [];
  for (let i = 0; i < replicas; i++) {
    const suffix = encode(fnv1a(`${deployment.metadata.name}/${i}`), 5);
    out.push({
      kind: "Pod",
      namespace: deployment.metadata.namespace ?? "default",
      name: `${deployment.metadata.name}-${templateHash}-${suffix}`,
      labels: spec.template.metadata?.labels ?? {},
      annotations: spec.template.metadata?.annotations ?? {},
      serviceAccount: podSpec.serviceAccountName ?? podSpec.serviceAccount ?? "default",
      hostNetwork: podSpec.hostNetwork === true,
      node: podSpec.nodeName,
      owner: deployment.metadata.name,
      source: deployment.source,
    });
  }
  return out;
}

function workloadEntry(we: WorkloadEntry): WorkloadInput {
  const spec = we.spec ?? {};
  return {
    kind: "WorkloadEntry",
    namespace: we.metadata.namespace ?? "default",
    name: we.metadata.name,
    // metadata labels win over spec labels (workloads.go).
    labels: { ...(spec.labels ?? {}), ...(we.metadata.labels ?? {}) },
    annotations: we.metadata.annotations ?? {},
    serviceAccount: spec.serviceAccount ?? "default",
    ip: spec.address,
    hostNetwork: false,
    source: we.source,
  };
}

function serviceEntryEndpoints(se: ServiceEntry): WorkloadInput[] {
  return (se.spec?.endpoints ?? []).map((ep, i) => ({
    kind: "ServiceEntryEndpoint" as const,
    namespace: se.metadata.namespace ?? "default",
    name: `${se.metadata.name}@${ep.address ?? String(i)}`,
    // The endpoint's labels play the object role; the ServiceEntry's own labels are not consulted.
    labels: ep.labels ?? {},
    annotations: {},
    serviceAccount: ep.serviceAccount ?? "default",
    ip: ep.address,
    hostNetwork: false,
    serviceEntry: se.metadata.name,
    source: se.source,
  }));
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function encode(n: number, length: number): string {
  let out = "";
  let v = n;
  for (let i = 0; i < length; i++) {
    out += NAME_ALPHABET[v % NAME_ALPHABET.length];
    v = Math.floor(v / NAME_ALPHABET.length) ^ (Math.imul(i + 1, 0x9e3779b1) >>> 7);
  }
  return out;
}
