// The local cluster `ambit up` runs: one cluster network, N virtual nodes sharing the machine, pods as
// netns + processes, Service VIPs with kube-proxy rules for uncaptured pods (and for the host, in the cluster
// netns), and hosts-file DNS in every pod. Changes (pods, readiness, Services, capture) schedule one
// coalesced sync that rewrites only what differs.
import { EventEmitter } from "node:events";
import type { Pod, Service, ServiceEntry } from "../api/resources.js";
import { AmbitError } from "../errors.js";
import { DEFAULT_CLUSTER_DOMAIN, type HostAlias, type ServiceName, writePodDns } from "./dns.js";
import { parseAnyCidr } from "./ipam.js";
import { containerLogPath, followLog, readLog } from "./logs.js";
import { DEFAULT_PREFIX } from "./names.js";
import { PodRunner, type PodStatusReport } from "./pod.js";
import {
  applyServiceRules,
  type PodEndpointInfo,
  removeServiceRules,
  type ServiceBackends,
  selectEndpoints,
  serviceKey,
  serviceRuleSpecs,
  VipAllocator,
} from "./services.js";
import type { Backoff } from "./supervisor.js";
import { ClusterNetwork } from "./topology.js";

export interface LocalClusterOptions {
  /** Names every netns, link and /etc/netns folder of the run. Default "ambit". */
  prefix?: string;
  /** Number of virtual nodes. Default 2. */
  nodes?: number;
  podCidr?: string;
  serviceCidr?: string;
  /** Containers' working directory (the manifests' or repository's root). */
  workDir: string;
  logDir: string;
  clusterDomain?: string;
  /** See ClusterNetworkOptions.hostSnat. Default true. */
  hostSnat?: boolean;
  /** Environment every container starts from. Default: PATH (with sbin), HOME, LANG, TZ of this process. */
  baseEnv?: Record<string, string>;
  backoff?: Partial<Backoff>;
  gracePeriodMs?: number;
}

export interface AddPodOptions {
  /** Default: the pod's spec.nodeName if it names a node, else the next node round-robin. */
  nodeName?: string;
  /** The mesh captures this pod's traffic: no kube-proxy rules, ztunnel handles VIPs. Default false. */
  captured?: boolean;
}

/**
 * A pod as the lead sees it. `ready` resolves once the pod is ready and the Service rules and DNS of every
 * pod include it (rejects if it cannot run or is removed first).
 */
export interface RunningPod {
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly ip: string;
  readonly node: string;
  readonly pod: Pod;
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  status(): PodStatusReport;
}

export interface LogOptions {
  /** Default: the pod's first container. */
  container?: string;
  tail?: number;
}

export interface ClusterEvents {
  podReady: [pod: RunningPod];
  podUnready: [pod: RunningPod];
  containerExited: [pod: RunningPod, container: string, code: number | null, signal: string | null];
  /** A container exited and will restart after `delayMs`. */
  containerBackoff: [pod: RunningPod, container: string, delayMs: number];
  /** Rules or DNS could not be written (the next change retries), or a container could not be spawned. */
  warning: [error: Error];
}

interface PodEntry {
  runner: PodRunner;
  view: RunningPod;
  captured: boolean;
  /** Last service rules written to its netns, to skip identical rewrites. */
  rules: string | undefined;
}

function defaultBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["HOME", "LANG", "TZ"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const path = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  for (const dir of ["/usr/sbin", "/sbin"]) if (!path.includes(dir)) path.push(dir);
  env.PATH = path.join(":");
  return env;
}

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class LocalCluster extends EventEmitter<ClusterEvents> {
  #network: ClusterNetwork | undefined;
  #options: LocalClusterOptions | undefined;
  #nodes: string[] = [];
  #nextNode = 0;
  #vips: VipAllocator | undefined;
  readonly #pods = new Map<string, PodEntry>();
  #services: Service[] = [];
  #aliases: HostAlias[] = [];
  #clusterRules: string | undefined;
  #dnsDirty = true;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  #stopped = false;

  /** Builds the network (after removing what an earlier run with the same prefix left). */
  async start(options: LocalClusterOptions): Promise<void> {
    if (this.#network) throw new AmbitError("AMBIT_RUNTIME_STARTED", "the cluster is already started");
    const nodes = options.nodes ?? 2;
    if (!Number.isInteger(nodes) || nodes < 1) {
      throw new AmbitError("AMBIT_RUNTIME_BAD_NODES", `nodes must be a positive integer, got ${nodes}`);
    }
    this.#options = options;
    this.#nodes = Array.from({ length: nodes }, (_, i) => `node-${i + 1}`);
    this.#network = await ClusterNetwork.create({
      prefix: options.prefix ?? DEFAULT_PREFIX,
      ...(options.podCidr ? { podCidr: options.podCidr } : {}),
      ...(options.serviceCidr ? { serviceCidr: options.serviceCidr } : {}),
      ...(options.hostSnat !== undefined ? { hostSnat: options.hostSnat } : {}),
    });
    this.#vips = new VipAllocator(this.#network.serviceCidr);
  }

  get network(): ClusterNetwork {
    if (!this.#network) throw new AmbitError("AMBIT_RUNTIME_NOT_STARTED", "the cluster is not started");
    return this.#network;
  }

  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /** The machine's address on the cluster network; pods reach the control plane here. */
  get hostIP(): string {
    return this.network.hostIP;
  }

  /** The nameserver pods' resolv.conf names (nothing answers it unless ztunnel captures DNS). */
  get dnsAddress(): string {
    return this.#vipAllocator().dnsAddress;
  }

  #vipAllocator(): VipAllocator {
    if (!this.#vips) throw new AmbitError("AMBIT_RUNTIME_NOT_STARTED", "the cluster is not started");
    return this.#vips;
  }

  /** Creates the pod's netns and DNS, then starts its containers. */
  async addPod(pod: Pod, options: AddPodOptions = {}): Promise<RunningPod> {
    const network = this.network;
    const o = this.#options as LocalClusterOptions;
    const namespace = pod.metadata.namespace ?? "default";
    const key = podKey(namespace, pod.metadata.name);
    if (this.#pods.has(key)) throw new AmbitError("AMBIT_RUNTIME_POD_EXISTS", `pod ${key} is already running`);
    const nodeName = this.#pickNode(options.nodeName ?? pod.spec?.nodeName);
    const podNet = await network.createPodNetwork(namespace, pod.metadata.name);
    const runner = new PodRunner({
      pod: { ...pod, metadata: { ...pod.metadata, namespace } },
      network: podNet,
      nodeName,
      hostIP: network.hostIP,
      workDir: o.workDir,
      logDir: o.logDir,
      baseEnv: o.baseEnv ?? defaultBaseEnv(),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.gracePeriodMs !== undefined ? { gracePeriodMs: o.gracePeriodMs } : {}),
    });
    const ready = runner.ready.then(() => this.synced());
    ready.catch(() => {});
    const view: RunningPod = {
      name: runner.name,
      namespace: runner.namespace,
      netns: runner.netns,
      ip: runner.ip,
      node: runner.node,
      pod: runner.pod,
      ready,
      get isReady() {
        return runner.isReady;
      },
      status: () => runner.status(),
    };
    const entry: PodEntry = { runner, view, captured: options.captured ?? false, rules: undefined };
    this.#pods.set(key, entry);
    // The sync is scheduled before the listeners of these events run, so synced() covers the change.
    runner.on("ready", () => {
      void this.#scheduleSync();
      this.emit("podReady", view);
    });
    runner.on("unready", () => {
      void this.#scheduleSync();
      this.emit("podUnready", view);
    });
    runner.on("exited", (container, code, signal) => this.emit("containerExited", view, container, code, signal));
    runner.on("backoff", (container, delay) => this.emit("containerBackoff", view, container, delay));
    runner.on("error", (e) => this.emit("warning", e));
    // Containers must find their hosts file, resolv.conf and (uncaptured) Service rules from their first instant.
    this.#dnsDirty = true;
    await this.#scheduleSync();
    runner.start();
    return view;
  }

  #pickNode(wanted: string | undefined): string {
    if (wanted !== undefined && this.#nodes.includes(wanted)) return wanted;
    const node = this.#nodes[this.#nextNode % this.#nodes.length] as string;
    this.#nextNode++;
    return node;
  }

  /** Stops the pod's containers and deletes its netns; its logs stay. */
  async removePod(namespace: string, name: string): Promise<void> {
    const key = podKey(namespace, name);
    const entry = this.#pods.get(key);
    if (!entry) return;
    this.#pods.delete(key);
    await entry.runner.stop();
    await this.network.deletePodNetwork(namespace, name);
    this.#dnsDirty = true;
    await this.#scheduleSync();
  }

  pods(): RunningPod[] {
    return [...this.#pods.values()].map((e) => e.view);
  }

  pod(namespace: string, name: string): RunningPod | undefined {
    return this.#pods.get(podKey(namespace, name))?.view;
  }

  /** Resolves once every change so far is in the pods' Service rules and DNS files. */
  async synced(): Promise<void> {
    while (this.#syncing) await this.#syncing;
  }

  /**
   * Marks a pod captured (or not). Capture removes its kube-proxy rules: call this before installing the
   * in-pod capture rules, so ztunnel sees the original VIP.
   */
  async setCaptured(namespace: string, name: string, captured: boolean): Promise<void> {
    const entry = this.#pods.get(podKey(namespace, name));
    if (!entry || entry.captured === captured) return;
    entry.captured = captured;
    if (captured) {
      await this.#serially(() => removeServiceRules(entry.runner.netns));
      entry.rules = undefined;
    }
    await this.#scheduleSync();
  }

  /**
   * Sets the cluster's Services (VIPs assigned, stable per Service) and ServiceEntries (their hosts resolve
   * to their first IPv4 address), then rewrites every pod's DNS and Service rules. Returns VIP by "ns/name".
   */
  async setServices(
    services: readonly Service[],
    serviceEntries: readonly ServiceEntry[] = [],
  ): Promise<Map<string, string>> {
    const vips = this.#vipAllocator();
    const keep = new Set(services.map(serviceKey));
    for (const old of this.#services) if (!keep.has(serviceKey(old))) vips.release(serviceKey(old));
    const assigned = new Map<string, string>();
    for (const service of services) {
      const vip = vips.assign(service);
      if (vip !== undefined) assigned.set(serviceKey(service), vip);
    }
    this.#services = [...services];
    this.#aliases = serviceEntryAliases(serviceEntries);
    this.#dnsDirty = true;
    await this.#scheduleSync();
    return assigned;
  }

  vipOf(namespace: string, name: string): string | undefined {
    return this.#vipAllocator().vipOf(podKey(namespace, name));
  }

  /** The current backends of every Service with a VIP: what kube-proxy rules are built from. */
  serviceBackends(): ServiceBackends[] {
    const vips = this.#vipAllocator();
    const pods: PodEndpointInfo[] = [...this.#pods.values()].map(({ runner }) => ({
      namespace: runner.namespace,
      labels: runner.pod.metadata.labels ?? {},
      ip: runner.ip,
      ready: runner.isReady,
      namedPorts: Object.fromEntries(
        (runner.pod.spec?.containers ?? []).flatMap((c) =>
          (c.ports ?? []).filter((p) => p.name !== undefined).map((p) => [p.name as string, p.containerPort]),
        ),
      ),
    }));
    const backends: ServiceBackends[] = [];
    for (const service of this.#services) {
      const vip = vips.vipOf(serviceKey(service));
      if (vip === undefined) continue;
      backends.push({
        key: serviceKey(service),
        vip,
        ports: service.spec?.ports ?? [],
        endpoints: selectEndpoints(service, pods),
      });
    }
    return backends;
  }

  async logs(namespace: string, pod: string, options: LogOptions = {}): Promise<string> {
    return readLog(this.#logPath(namespace, pod, options.container), options);
  }

  followLogs(
    namespace: string,
    pod: string,
    options: LogOptions & { signal: AbortSignal; pollMs?: number },
  ): AsyncGenerator<string> {
    return followLog(this.#logPath(namespace, pod, options.container), options);
  }

  #logPath(namespace: string, pod: string, container: string | undefined): string {
    const o = this.#options;
    if (!o) throw new AmbitError("AMBIT_RUNTIME_NOT_STARTED", "the cluster is not started");
    const name = container ?? this.pod(namespace, pod)?.pod.spec?.containers[0]?.name;
    if (name === undefined) {
      throw new AmbitError("AMBIT_RUNTIME_NO_CONTAINER", `say which container of ${namespace}/${pod} to read`);
    }
    return containerLogPath(o.logDir, namespace, pod, name);
  }

  /** Stops every pod, then removes the whole network (netns, links, routes, /etc/netns folders). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const entries = [...this.#pods.values()];
    this.#pods.clear();
    await Promise.all(entries.map((e) => e.runner.stop()));
    await this.#syncing?.catch(() => {});
    await this.#network?.destroy();
    this.#network = undefined;
  }

  // One sync at a time; changes during a sync are folded into one more run after it.
  #scheduleSync(): Promise<void> {
    if (this.#syncing) {
      this.#syncAgain = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#syncAgain = false;
          await this.#sync();
        } while (this.#syncAgain && !this.#stopped);
      } catch (e) {
        this.emit("warning", e as Error);
      } finally {
        this.#syncing = undefined;
      }
    })();
    return this.#syncing;
  }

  async #serially(work: () => Promise<void>): Promise<void> {
    await this.#syncing?.catch(() => {});
    await work();
  }

  async #sync(): Promise<void> {
    if (this.#stopped || !this.#network) return;
    const network = this.#network;
    const backends = this.serviceBackends();
    const rules = serviceRuleSpecs(backends).join("\n");
    if (this.#dnsDirty) {
      this.#dnsDirty = false;
      const domain = this.#options?.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
      const names: ServiceName[] = backends.map((b) => {
        const [namespace, name] = b.key.split("/") as [string, string];
        return { namespace, name, vip: b.vip };
      });
      for (const { runner } of this.#pods.values()) {
        const input = {
          podName: runner.name,
          podNamespace: runner.namespace,
          podIP: runner.ip,
          services: names,
          aliases: this.#aliases,
          clusterDomain: domain,
        };
        await writePodDns(runner.netns, input, this.dnsAddress);
      }
    }
    for (const entry of this.#pods.values()) {
      if (entry.captured || entry.rules === rules) continue;
      await applyServiceRules(entry.runner.netns, backends, "OUTPUT");
      entry.rules = rules;
    }
    // The host's own connections to VIPs (the user's shell, the control plane) enter the cluster netns.
    if (this.#clusterRules !== rules) {
      await applyServiceRules(network.clusterNetns, backends, "PREROUTING");
      this.#clusterRules = rules;
    }
  }
}

function serviceEntryAliases(entries: readonly ServiceEntry[]): HostAlias[] {
  const aliases: HostAlias[] = [];
  for (const entry of entries) {
    const ip = entry.spec?.addresses?.find((a) => {
      try {
        return parseAnyCidr(a).bits === 32;
      } catch {
        return false;
      }
    });
    const hosts = (entry.spec?.hosts ?? []).filter((h) => !h.includes("*"));
    if (ip !== undefined && hosts.length > 0) aliases.push({ ip: ip.replace(/\/32$/, ""), hostnames: hosts });
  }
  return aliases;
}
