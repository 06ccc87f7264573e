// The cluster network of a local run: a "cluster" netns holding a bridge every pod netns plugs into, and one
// veth pair from the root netns into it. The host gets one address in the pod CIDR and two routes (pod and
// service CIDR) through that pair; nothing else of the host's network changes, and deleting the pair (or the
// cluster netns) removes the routes with it.
import { access, readdir, rmdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { HOST_PROBE_SNAT } from "../dataplane/capture/constants.js";
import { run } from "../dataplane/capture/exec.js";
import {
  addAddress,
  attachToBridge,
  createBridge,
  createNetns,
  createVethPair,
  deleteNetns,
  listLinks,
  listNetns,
  setLinkUp,
} from "../dataplane/capture/netns.js";
import { AmbitError } from "../errors.js";
import { addressAt, type Cidr, cidrsOverlap, formatCidr, IpAllocator, parseAnyCidr, parseCidr } from "./ipam.js";
import { BRIDGE, CLUSTER_UPLINK, checkPrefix, clusterNetns, hostLink, ownedBy, podLink, podNetns } from "./names.js";
import { killNetnsProcesses, listRoutes, NETNS_ETC_DIR, removeNetnsEtc, setSysctl } from "./netns-extra.js";

export const DEFAULT_POD_CIDR = "10.88.0.0/16";
export const DEFAULT_SERVICE_CIDR = "10.96.0.0/16";
/** Pod CIDR offsets: 1 is the bridge (the pods' gateway), 2 the host; pods start here. */
const FIRST_POD_OFFSET = 10;

export interface ClusterNetworkOptions {
  prefix: string;
  podCidr?: string;
  serviceCidr?: string;
  /**
   * SNAT the host's connections to pods to 169.254.7.127, as istio-cni does for node-local traffic, so
   * readiness probes reach captured pods' apps without going through ztunnel. Default true.
   */
  hostSnat?: boolean;
}

export interface PodNetwork {
  namespace: string;
  name: string;
  netns: string;
  ip: string;
}

export class ClusterNetwork {
  readonly prefix: string;
  readonly podCidr: Cidr;
  readonly serviceCidr: Cidr;
  readonly clusterNetns: string;
  /** The pods' default gateway (the bridge). */
  readonly gateway: string;
  /** The host's address on the cluster network: pods reach the control plane here. */
  readonly hostIP: string;
  readonly #ips: IpAllocator;
  readonly #pods = new Map<string, PodNetwork>();

  private constructor(prefix: string, podCidr: Cidr, serviceCidr: Cidr) {
    this.prefix = prefix;
    this.podCidr = podCidr;
    this.serviceCidr = serviceCidr;
    this.clusterNetns = clusterNetns(prefix);
    this.gateway = addressAt(podCidr, 1);
    this.hostIP = addressAt(podCidr, 2);
    this.#ips = new IpAllocator(podCidr, FIRST_POD_OFFSET);
  }

  /** Removes whatever a previous run with this prefix left, then builds the network. */
  static async create(options: ClusterNetworkOptions): Promise<ClusterNetwork> {
    const prefix = checkPrefix(options.prefix);
    const podCidr = parseCidr(options.podCidr ?? DEFAULT_POD_CIDR);
    const serviceCidr = parseCidr(options.serviceCidr ?? DEFAULT_SERVICE_CIDR);
    if (cidrsOverlap(podCidr, serviceCidr)) {
      throw new AmbitError(
        "AMBIT_RUNTIME_CIDR_CLASH",
        `pod CIDR ${formatCidr(podCidr)} and service CIDR ${formatCidr(serviceCidr)} overlap`,
      );
    }
    await teardownAll(prefix);
    await checkHostRoutes(prefix, [podCidr, serviceCidr]);
    const network = new ClusterNetwork(prefix, podCidr, serviceCidr);
    try {
      await network.#build(options.hostSnat ?? true);
    } catch (e) {
      await teardownAll(prefix).catch(() => {});
      throw e;
    }
    return network;
  }

  async #build(hostSnat: boolean): Promise<void> {
    const ns = this.clusterNetns;
    const host = hostLink(this.prefix);
    await createNetns(ns);
    await setSysctl(ns, "net.ipv4.ip_forward", "1");
    await createBridge(BRIDGE, { netns: ns, addresses: [`${this.gateway}/${this.podCidr.bits}`] });
    await createVethPair({ name: host, peer: CLUSTER_UPLINK, peerNetns: ns });
    await addAddress(host, `${this.hostIP}/32`);
    await setLinkUp(host);
    await setLinkUp(CLUSTER_UPLINK, ns);
    await run("ip", ["-n", ns, "route", "add", `${this.hostIP}/32`, "dev", CLUSTER_UPLINK]);
    // The bridge address is local to the cluster netns, so its uplink answers ARP for it: "onlink" needs
    // no shared subnet between the host and the cluster.
    for (const cidr of [this.podCidr, this.serviceCidr]) {
      await run("ip", [
        "route",
        "add",
        formatCidr(cidr),
        "via",
        this.gateway,
        "dev",
        host,
        "onlink",
        "src",
        this.hostIP,
      ]);
    }
    if (hostSnat) {
      await run("ip", ["netns", "exec", ns, "iptables-restore", "--noflush"], {
        input: [
          "*nat",
          `-A POSTROUTING -s ${this.hostIP}/32 -o ${BRIDGE} -p tcp -j SNAT --to-source ${HOST_PROBE_SNAT.v4}`,
          "COMMIT",
          "",
        ].join("\n"),
      });
    }
  }

  /** A netns for the pod with its own IP, loopback up and a default route via the bridge. */
  async createPodNetwork(namespace: string, name: string): Promise<PodNetwork> {
    const key = `${namespace}/${name}`;
    const existing = this.#pods.get(key);
    if (existing) return existing;
    const ip = this.#ips.allocate(key);
    const netns = podNetns(this.prefix, namespace, name);
    try {
      await createNetns(netns);
      await attachToBridge({
        netns,
        bridge: BRIDGE,
        bridgeNetns: this.clusterNetns,
        hostIf: podLink(ip),
        addresses: [`${ip}/${this.podCidr.bits}`],
        gateways: [this.gateway],
      });
    } catch (e) {
      await deleteNetns(netns).catch(() => {});
      this.#ips.release(key);
      throw e;
    }
    const pod = { namespace, name, netns, ip };
    this.#pods.set(key, pod);
    return pod;
  }

  /** Deletes the pod's netns (its veth goes with it) and frees its IP; the pod's processes must be gone. */
  async deletePodNetwork(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const pod = this.#pods.get(key);
    if (!pod) return;
    await killNetnsProcesses(pod.netns);
    await deleteNetns(pod.netns);
    await removeNetnsEtc(pod.netns);
    this.#pods.delete(key);
    this.#ips.release(key);
  }

  podNetworks(): PodNetwork[] {
    return [...this.#pods.values()];
  }

  async destroy(): Promise<void> {
    this.#pods.clear();
    await teardownAll(this.prefix);
  }
}

async function checkHostRoutes(prefix: string, cidrs: readonly Cidr[]): Promise<void> {
  for (const route of await listRoutes()) {
    if (route.dst === "default" || (route.dev !== undefined && ownedBy(prefix, route.dev))) continue;
    const dst = parseAnyCidr(route.dst);
    const clash = cidrs.find((c) => cidrsOverlap(c, dst));
    if (clash) {
      throw new AmbitError(
        "AMBIT_RUNTIME_CIDR_CLASH",
        `${formatCidr(clash)} overlaps the host route ${route.dst}${route.dev ? ` dev ${route.dev}` : ""}: choose another --pod-cidr/--service-cidr`,
      );
    }
  }
}

/** What a run with this prefix left on the machine: netns, root links, host routes, /etc/netns folders. */
export async function leftovers(prefix: string): Promise<string[]> {
  checkPrefix(prefix);
  const left: string[] = [];
  for (const ns of await listNetns(`${prefix}-`)) left.push(`netns ${ns}`);
  for (const link of await listLinks(`${prefix}-`)) left.push(`link ${link.name}`);
  for (const route of await listRoutes()) {
    if (route.dev !== undefined && ownedBy(prefix, route.dev)) left.push(`route ${route.dst} dev ${route.dev}`);
  }
  for (const dir of await etcDirs(prefix)) left.push(`dir ${NETNS_ETC_DIR}/${dir}`);
  return left;
}

async function etcDirs(prefix: string): Promise<string[]> {
  try {
    await access(NETNS_ETC_DIR);
  } catch {
    return [];
  }
  return (await readdir(NETNS_ETC_DIR)).filter((d) => ownedBy(prefix, d));
}

/**
 * Removes everything a run with this prefix made, including what a crashed run left: the processes inside
 * its netns (else the netns outlive `ip netns del`), the netns, the host link and its routes, and the
 * /etc/netns folders. Waits until the kernel has let go (veth removal is asynchronous). Idempotent.
 */
export async function teardownAll(prefix: string, timeoutMs = 10_000): Promise<void> {
  checkPrefix(prefix);
  const namespaces = await listNetns(`${prefix}-`);
  for (const ns of namespaces) await killNetnsProcesses(ns);
  // Pods first, so no pod veth is left waiting on a bridge that is already gone.
  const cluster = clusterNetns(prefix);
  for (const ns of namespaces.filter((n) => n !== cluster)) await deleteNetns(ns);
  if (namespaces.includes(cluster)) await deleteNetns(cluster);
  for (const link of await listLinks(`${prefix}-`)) {
    await run("ip", ["link", "del", link.name], { allowFailure: true });
  }
  for (const dir of await etcDirs(prefix)) await removeNetnsEtc(dir);
  // /etc/netns itself goes only when nothing else uses it (rmdir refuses a non-empty folder).
  await rmdir(NETNS_ETC_DIR).catch(() => {});
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await leftovers(prefix);
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      throw new AmbitError("AMBIT_RUNTIME_TEARDOWN_TIMEOUT", `still present after teardown: ${left.join(", ")}`);
    }
    await sleep(50);
  }
}
