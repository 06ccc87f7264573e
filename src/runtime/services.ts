// Service VIPs and kube-proxy's job for pods the mesh does not capture: in the pod's netns, nat rules in
// their own chain DNAT `VIP:port` to a random ready endpoint (iptables `statistic` mode, as kube-proxy's
// iptables mode does). Captured pods get no such rules: capture must see the original VIP so ztunnel can
// apply the Service's policy and waypoint. The jump into AMBIT-SERVICES is appended to OUTPUT, so it
// follows a capture jump already there; a pod about to be captured must have its rules removed first.
import type { Service, ServicePort } from "../api/resources.js";
import { run } from "../dataplane/capture/exec.js";
import { labelsContain } from "../mesh/selectors.js";
import { addressAt, type Cidr, IpAllocator, ipToNumber } from "./ipam.js";

export const SERVICES_CHAIN = "AMBIT-SERVICES";
/** Offsets 1-10 of the service CIDR are kept back: .1 is Kubernetes' own API Service, .10 cluster DNS. */
const FIRST_VIP_OFFSET = 11;
const DNS_OFFSET = 10;

export type NatHook = "OUTPUT" | "PREROUTING";

export function serviceKey(service: Pick<Service, "metadata">): string {
  return `${service.metadata.namespace ?? "default"}/${service.metadata.name}`;
}

/** Stable VIPs: a Service keeps its address for the run; spec.clusterIP is honoured when free and in range. */
export class VipAllocator {
  readonly #ips: IpAllocator;
  /** The cluster DNS address resolv.conf names (kube-dns' conventional .10). */
  readonly dnsAddress: string;

  constructor(cidr: Cidr) {
    this.#ips = new IpAllocator(cidr, FIRST_VIP_OFFSET);
    this.dnsAddress = addressAt(cidr, DNS_OFFSET);
  }

  /** The Service's VIP, or undefined for headless (clusterIP None) and ExternalName Services. */
  assign(service: Service): string | undefined {
    const spec = service.spec ?? {};
    if (spec.clusterIP === "None" || spec.type === "ExternalName") return undefined;
    const key = serviceKey(service);
    const wanted = spec.clusterIP ?? spec.clusterIPs?.[0];
    if (wanted !== undefined && wanted !== "" && this.#ips.claim(key, wanted)) return wanted;
    return this.#ips.allocate(key);
  }

  release(key: string): void {
    this.#ips.release(key);
  }

  vipOf(key: string): string | undefined {
    return this.#ips.addressOf(key);
  }
}

/** What the endpoints controller needs to know of a pod. */
export interface PodEndpointInfo {
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  ready: boolean;
  /** Container ports by name, for named targetPorts. */
  namedPorts: Record<string, number>;
}

export interface ServiceBackends {
  key: string;
  vip: string;
  ports: ServicePort[];
  endpoints: PodEndpointInfo[];
}

/** The pods a Service selects (same namespace, labels match, ready unless publishNotReadyAddresses). */
export function selectEndpoints(service: Service, pods: readonly PodEndpointInfo[]): PodEndpointInfo[] {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const namespace = service.metadata.namespace ?? "default";
  const includeNotReady = (service.spec as { publishNotReadyAddresses?: boolean }).publishNotReadyAddresses === true;
  return pods.filter(
    (p) => p.namespace === namespace && labelsContain(p.labels, selector) && (p.ready || includeNotReady),
  );
}

/** The port an endpoint serves a Service port on: targetPort (number or the pod's named port), else port. */
export function targetPortOf(port: ServicePort, endpoint: PodEndpointInfo): number | undefined {
  const target = port.targetPort;
  if (target === undefined) return port.port;
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  return endpoint.namedPorts[target];
}

function protocolOf(port: ServicePort): "tcp" | "udp" | undefined {
  const p = (port.protocol ?? "TCP").toUpperCase();
  return p === "TCP" ? "tcp" : p === "UDP" ? "udp" : undefined;
}

/** The AMBIT-SERVICES rules in iptables-save's normalised form, one line per rule without `-A chain`. */
export function serviceRuleSpecs(backends: readonly ServiceBackends[]): string[] {
  const specs: string[] = [];
  for (const service of [...backends].sort((a, b) => a.key.localeCompare(b.key))) {
    for (const port of service.ports) {
      const proto = protocolOf(port);
      if (!proto) continue;
      const targets = service.endpoints
        .map((e) => ({ ip: e.ip, port: targetPortOf(port, e) }))
        .filter((t): t is { ip: string; port: number } => t.port !== undefined)
        // Address order, so the same endpoints always render the same rules.
        .sort((a, b) => ipToNumber(a.ip) - ipToNumber(b.ip));
      const match = `-d ${service.vip}/32 -p ${proto} -m ${proto} --dport ${port.port}`;
      targets.forEach((t, i) => {
        // Rule i sees only what rules 0..i-1 let through, so 1/(n-i) gives every endpoint 1/n overall.
        const left = targets.length - i;
        const statistic = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(11)}` : "";
        specs.push(`${match}${statistic} -j DNAT --to-destination ${t.ip}:${t.port}`);
      });
    }
  }
  return specs;
}

/** The iptables-restore --noflush payload: declaring the chain empties it, then the rules, optionally the jump. */
export function renderServiceRules(backends: readonly ServiceBackends[], jumpFrom?: NatHook): string {
  const lines = ["*nat", `:${SERVICES_CHAIN} - [0:0]`];
  for (const spec of serviceRuleSpecs(backends)) lines.push(`-A ${SERVICES_CHAIN} ${spec}`);
  if (jumpFrom) lines.push(`-A ${jumpFrom} -j ${SERVICES_CHAIN}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}

async function natSave(netns: string): Promise<string> {
  return (await run("ip", ["netns", "exec", netns, "iptables-save", "-t", "nat"])).stdout;
}

/** Replaces the netns' service rules in one iptables-restore transaction; adds the jump once. */
export async function applyServiceRules(
  netns: string,
  backends: readonly ServiceBackends[],
  hook: NatHook = "OUTPUT",
): Promise<void> {
  const hasJump = (await natSave(netns)).split("\n").includes(`-A ${hook} -j ${SERVICES_CHAIN}`);
  await run("ip", ["netns", "exec", netns, "iptables-restore", "--noflush"], {
    input: renderServiceRules(backends, hasJump ? undefined : hook),
  });
}

/** The rules now in the netns' AMBIT-SERVICES chain (without `-A AMBIT-SERVICES`). */
export async function readServiceRules(netns: string): Promise<string[]> {
  const prefix = `-A ${SERVICES_CHAIN} `;
  return (await natSave(netns))
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

export async function removeServiceRules(netns: string, hook: NatHook = "OUTPUT"): Promise<void> {
  const ipt = (...args: string[]) =>
    run("ip", ["netns", "exec", netns, "iptables", "-t", "nat", ...args], { allowFailure: true });
  for (let i = 0; i < 8; i++) {
    if ((await ipt("-D", hook, "-j", SERVICES_CHAIN)).code !== 0) break;
  }
  await ipt("-F", SERVICES_CHAIN);
  await ipt("-X", SERVICES_CHAIN);
}
