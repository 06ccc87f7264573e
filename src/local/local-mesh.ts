// `ambit up`: the whole ambient mesh on one Linux machine. The runtime (netns pods, VIPs, DNS), the control plane
// on the watched folder (through a ClusterView that reports pod IPs, VIPs and waypoint status as a cluster
// would), one ztunnel per node, a waypoint pod per waypoint Gateway, and in-pod capture for every pod the model
// says is captured. Every folder change ends in one serialized reconcile.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { Labels, WAYPOINT_GATEWAY_CLASS } from "../api/labels.js";
import type { Gateway, GatewayClass, KubeObject, Pod, Service, ServiceEntry } from "../api/resources.js";
import { FileStore } from "../config/file-store.js";
import { ControlPlane } from "../controlplane/control-plane.js";
import { checkCapturePrerequisites } from "../dataplane/capture/probe.js";
import { AmbitError } from "../errors.js";
import { MeshCa } from "../identity/ca.js";
import { DEFAULT_TRUST_DOMAIN, isValidTrustDomain } from "../identity/spiffe.js";
import { isMeshManagedClass } from "../mesh/waypoints.js";
import { POLICY_SPEC_VALIDATORS } from "../policy/validate.js";
import {
  DEFAULT_PREFIX,
  LocalCluster,
  podsFromObjects,
  prerequisites,
  type RunningPod,
  teardownAll,
} from "../runtime/index.js";
import { CaptureManager } from "./capture-manager.js";
import { ClusterView } from "./cluster-view.js";
import { NodeAgent } from "./node-agent.js";
import { type Progress, silentProgress } from "./progress.js";
import { type MeshState, removeState, STATE_ROOT, writeState } from "./state-file.js";
import { waypointPod, waypointService, waypointServiceAccount, withWaypointStatus } from "./waypoint-objects.js";
import { WaypointPod } from "./waypoint-pods.js";

export interface LocalMeshOptions {
  folder: string;
  prefix?: string;
  nodes?: number;
  podCidr?: string;
  serviceCidr?: string;
  progress?: Progress;
  /** Where state.json goes; default /run/ambit. */
  stateRoot?: string;
  /** Containers' working directory (relative paths in commands); default the current directory. */
  workDir?: string;
  /** Default /var/log/ambit/<prefix>. */
  logDir?: string;
  /** FileStore debounce; default 50 ms. */
  debounceMs?: number;
  /** How long start() waits for every pod to be ready before reporting the stragglers; default 60 s. */
  readyTimeoutMs?: number;
  /** A plug-in CA folder in Istio's `cacerts` layout (PLUGIN_CA_FILES); default: a root generated at start. */
  caDir?: string;
  /** The SPIFFE trust domain of workload identities (MeshConfig `trustDomain`); default `cluster.local`. */
  trustDomain?: string;
}

export function defaultLogDir(prefix: string): string {
  return join("/var/log/ambit", prefix);
}

/** What is missing to run the mesh here (root, ip, iptables, the capture addon), as messages. */
export async function missingPrerequisites(): Promise<string[]> {
  const runtime = await prerequisites();
  const capture = await checkCapturePrerequisites({ deep: false });
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of [...runtime, ...capture]) {
    if (seen.has(m.message)) continue;
    seen.add(m.message);
    out.push(`[${m.id}] ${m.message}`);
  }
  return out;
}

export class LocalMesh {
  readonly prefix: string;
  readonly folder: string;
  readonly cluster = new LocalCluster();
  readonly agents = new Map<string, NodeAgent>();
  readonly waypoints = new Map<string, WaypointPod>();
  readonly logDir: string;
  /** SPIFFE trust domain of every workload identity. */
  readonly trustDomain: string;
  readonly #o: LocalMeshOptions;
  readonly #progress: Progress;
  readonly #stateRoot: string;
  readonly #capture: CaptureManager;
  #cp: ControlPlane | undefined;
  #view: ClusterView | undefined;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  #startedAt = new Date().toISOString();
  #stateTimer: NodeJS.Timeout | undefined;
  /** One token per node (registering again would revoke the previous one). Never logged. */
  readonly #tokens = new Map<string, string>();

  private constructor(o: LocalMeshOptions) {
    this.#o = o;
    this.prefix = o.prefix ?? DEFAULT_PREFIX;
    this.folder = o.folder;
    this.logDir = o.logDir ?? defaultLogDir(this.prefix);
    this.trustDomain = o.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.#progress = o.progress ?? silentProgress;
    this.#stateRoot = o.stateRoot ?? STATE_ROOT;
    this.#capture = new CaptureManager(this.cluster, this.agents, (m) => this.#progress.failed(m));
  }

  get controlPlane(): ControlPlane {
    if (!this.#cp) throw new AmbitError("AMBIT_LOCAL_NOT_STARTED", "the mesh is not running");
    return this.#cp;
  }

  static async start(o: LocalMeshOptions): Promise<LocalMesh> {
    const missing = await missingPrerequisites();
    if (missing.length > 0) {
      throw new AmbitError("AMBIT_LOCAL_PREREQUISITES", `cannot run the mesh here:\n  ${missing.join("\n  ")}`);
    }
    // Checked before anything is created: a bad trust domain or CA folder leaves nothing to clean up.
    const trustDomain = o.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    if (!isValidTrustDomain(trustDomain)) {
      throw new AmbitError(
        "AMBIT_LOCAL_CONFIG",
        `invalid trust domain "${trustDomain}" (a DNS-like name, e.g. example.org)`,
      );
    }
    const ca = o.caDir ? await MeshCa.fromPluginDir(o.caDir, { trustDomain }) : undefined;
    const mesh = new LocalMesh(o);
    try {
      await mesh.#start(ca);
    } catch (e) {
      await mesh.stop();
      throw e;
    }
    return mesh;
  }

  async #start(ca: MeshCa | undefined): Promise<void> {
    const o = this.#o;
    const p = this.#progress;
    await teardownAll(this.prefix);
    mkdirSync(this.logDir, { recursive: true });
    await this.cluster.start({
      prefix: this.prefix,
      nodes: o.nodes ?? 2,
      ...(o.podCidr ? { podCidr: o.podCidr } : {}),
      ...(o.serviceCidr ? { serviceCidr: o.serviceCidr } : {}),
      workDir: o.workDir ?? process.cwd(),
      logDir: this.logDir,
    });
    p.done(`cluster network ${this.prefix}-cluster, host ${this.cluster.hostIP}`);
    this.cluster.on("podReady", () => this.#scheduleState());
    this.cluster.on("podUnready", () => this.#scheduleState());

    const files = new FileStore(o.folder, { debounceMs: o.debounceMs ?? 50, specValidators: POLICY_SPEC_VALIDATORS });
    const view = new ClusterView(
      files,
      (obj) => this.#enrich(obj),
      () => this.#schedule(),
    );
    this.#view = view;
    const cpLog = join(this.logDir, "istio-system", "istiod");
    mkdirSync(cpLog, { recursive: true });
    const cp = new ControlPlane({
      folder: o.folder,
      store: view,
      mode: "snapshot",
      trustDomain: this.trustDomain,
      ...(ca ? { ca } : {}),
      pushWindowMs: 5,
      logger: pino({ name: "istiod", level: "info" }, pino.destination({ dest: join(cpLog, "discovery.log") })),
    });
    await cp.start();
    this.#cp = cp;
    p.done(`control plane watching ${o.folder} (xDS 127.0.0.1:${cp.xdsPort}, CA 127.0.0.1:${cp.caPort})`);

    for (const node of this.cluster.nodes) {
      const agent = new NodeAgent({
        node,
        xds: `127.0.0.1:${cp.xdsPort}`,
        ca: `127.0.0.1:${cp.caPort}`,
        rootPem: cp.ca.rootPem,
        token: this.#token(node),
        logDir: this.logDir,
        trustDomain: this.trustDomain,
        connectApp: this.#capture.connectApp,
      });
      this.agents.set(node, agent);
      await agent.start();
    }
    const synced = await Promise.all([...this.agents.values()].map((a) => a.synced()));
    if (synced.includes(false)) p.failed("a ztunnel did not get its first xDS answer within 10 s");
    p.done(`${this.agents.size} nodes, ztunnel on each`);

    await this.#enqueue(() => this.#reconcile());
    await this.#waitReady(o.readyTimeoutMs ?? 60_000);
    this.#writeState();
  }

  /** Resolves after every change seen so far has been reconciled. */
  settled(): Promise<void> {
    return this.#queue;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#stateTimer);
    await this.#queue.catch(() => {});
    this.#view?.close();
    for (const wp of this.waypoints.values()) await wp.stop().catch(() => {});
    this.waypoints.clear();
    for (const pod of this.cluster.pods()) await this.#capture.release(pod).catch(() => {});
    for (const agent of this.agents.values()) await agent.stop().catch(() => {});
    this.agents.clear();
    await this.#cp?.stop().catch(() => {});
    await this.cluster.stop().catch(() => {});
    await teardownAll(this.prefix);
    removeState(this.prefix, this.#stateRoot);
  }

  state(): MeshState {
    const cp = this.#cp;
    return {
      prefix: this.prefix,
      pid: process.pid,
      startedAt: this.#startedAt,
      folder: this.folder,
      controlPlane: { xds: `127.0.0.1:${cp?.xdsPort ?? 0}`, ca: `127.0.0.1:${cp?.caPort ?? 0}` },
      nodes: [...this.agents.values()].map((a) => ({
        name: a.node,
        ztunnelAdmin: `127.0.0.1:${a.ztunnel.ports.admin}`,
        metrics: `127.0.0.1:${a.ztunnel.ports.metrics}`,
        readiness: `127.0.0.1:${a.ztunnel.ports.readiness}`,
      })),
      waypoints: [...this.waypoints.values()].map((w) => ({
        namespace: w.namespace,
        name: w.gateway,
        pod: w.pod.name,
        ip: w.pod.ip,
        node: w.pod.node,
        metrics: `${w.pod.ip}:15020`,
        readiness: `${w.pod.ip}:15021`,
      })),
      pods: this.cluster.pods().map((pod) => ({
        namespace: pod.namespace,
        name: pod.name,
        netns: pod.netns,
        ip: pod.ip,
        node: pod.node,
        captured: this.#capture.isCaptured(pod.namespace, pod.name),
        ready: pod.isReady,
      })),
    };
  }

  #writeState(): void {
    if (this.#stopped) return;
    writeState(this.state(), this.#stateRoot);
  }

  #scheduleState(): void {
    if (this.#stopped || this.#stateTimer) return;
    this.#stateTimer = setTimeout(() => {
      this.#stateTimer = undefined;
      this.#writeState();
    }, 100);
  }

  #schedule(): void {
    void this.#enqueue(() => this.#reconcile()).catch((e: unknown) =>
      this.#progress.failed(`applying a change failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(job);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const pods = this.cluster.pods();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const all = Promise.allSettled(pods.map((p) => p.ready));
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    const late = pods.filter((p) => !p.isReady).map((p) => `${p.namespace}/${p.name}`);
    if (outcome === "timeout" || late.length > 0) this.#progress.failed(`not ready: ${late.join(", ")}`);
    else this.#progress.done(`all ${pods.length} pods ready`);
  }

  // ---- what the cluster reports ----

  #enrich(obj: KubeObject): KubeObject {
    const ns = obj.metadata.namespace ?? "default";
    if (obj.kind === "Service") {
      const vip = this.cluster.vipOf(ns, obj.metadata.name);
      return vip ? ({ ...obj, spec: { ...(obj.spec ?? {}), clusterIP: vip } } as KubeObject) : obj;
    }
    if (obj.kind === "Gateway" && this.waypoints.has(`${ns}/${obj.metadata.name}`)) {
      const vip = this.cluster.vipOf(ns, obj.metadata.name);
      if (vip) return withWaypointStatus(obj as Gateway, vip);
    }
    return obj;
  }

  // ---- reconcile: the folder (plus waypoints) → running pods, VIPs and capture ----

  async #reconcile(): Promise<void> {
    const view = this.#view;
    const cp = this.#cp;
    if (!view || !cp || this.#stopped) return;
    const files = view.fileObjects();
    const gateways = waypointGateways(files);
    const gatewayKeys = new Set(gateways.map((g) => `${g.metadata.namespace ?? "default"}/${g.metadata.name}`));

    // Services first, so every pod's DNS and the control plane know the VIPs.
    const services = [
      ...files.filter((o): o is Service => o.kind === "Service"),
      ...gateways.map((g) => waypointService(g.metadata.namespace ?? "default", g.metadata.name)),
    ];
    const entries = files.filter((o): o is ServiceEntry => o.kind === "ServiceEntry");
    const before = new Map(services.map((s) => [key(s), this.cluster.vipOf(ns(s), s.metadata.name)]));
    const vips = await this.cluster.setServices(services, entries);
    for (const s of files.filter((o) => o.kind === "Service")) {
      if (before.get(key(s)) !== vips.get(key(s))) view.refresh("Service", ns(s), s.metadata.name);
    }

    // Waypoints that left.
    for (const [k, wp] of this.waypoints) {
      if (gatewayKeys.has(k)) continue;
      this.waypoints.delete(k);
      await wp.stop();
      await this.cluster.removePod(wp.namespace, wp.pod.name);
      view.deleteExtra("Pod", wp.namespace, wp.pod.name);
      view.deleteExtra("Service", wp.namespace, wp.gateway);
      view.deleteExtra("ServiceAccount", wp.namespace, wp.gateway);
      view.refresh("Gateway", wp.namespace, wp.gateway);
      this.#progress.info(`waypoint ${k} removed`);
    }

    // App pods: remove what left the folder, start what is new, follow label edits.
    const desired = new Map(podsFromObjects(files).map((p) => [key(p), p]));
    for (const pod of this.cluster.pods()) {
      const k = `${pod.namespace}/${pod.name}`;
      if (desired.has(k) || this.#isWaypointPod(pod)) continue;
      await this.#capture.release(pod);
      await this.cluster.removePod(pod.namespace, pod.name);
      view.deleteExtra("Pod", pod.namespace, pod.name);
      this.#progress.info(`pod ${k} removed`);
    }
    for (const [k, pod] of desired) {
      const running = this.cluster.pod(ns(pod), pod.metadata.name);
      if (!running) {
        const started = await this.cluster.addPod(pod);
        view.putExtra(reported(pod, started));
        await this.#syncCapture(started);
        this.#progress.done(
          `pod ${k} ${started.ip} on ${started.node}${this.#capture.isCaptured(started.namespace, started.name) ? ", captured" : ""}`,
        );
      } else {
        const shown = view.extra("Pod", ns(pod), pod.metadata.name);
        if (JSON.stringify(shown?.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {})) {
          view.putExtra(reported(pod, running));
        }
      }
    }

    // Waypoints that arrived.
    for (const g of gateways) {
      const gns = g.metadata.namespace ?? "default";
      const k = `${gns}/${g.metadata.name}`;
      if (this.waypoints.has(k)) continue;
      await this.#startWaypoint(gns, g.metadata.name, vips.get(k));
    }

    // Capture follows the model (namespace and pod labels), without restarting anything.
    for (const pod of this.cluster.pods()) await this.#syncCapture(pod);
    this.#writeState();
  }

  async #syncCapture(pod: RunningPod): Promise<void> {
    const want = this.controlPlane.model.workload(`Pod/${pod.namespace}/${pod.name}`)?.captured === true;
    const has = this.#capture.isCaptured(pod.namespace, pod.name);
    if (want && !has) {
      await this.#capture.capture(pod);
      if (this.#started(pod)) this.#progress.info(`pod ${pod.namespace}/${pod.name} captured`);
    } else if (!want && has) {
      await this.#capture.release(pod);
      this.#progress.info(`pod ${pod.namespace}/${pod.name} released from capture`);
    }
  }

  /** Capture changes of pods that were already reported get their own line. */
  #started(pod: RunningPod): boolean {
    return this.#view?.extra("Pod", pod.namespace, pod.name) !== undefined && pod.isReady;
  }

  #token(node: string): string {
    let token = this.#tokens.get(node);
    if (token === undefined) {
      token = this.controlPlane.registerNode(node);
      this.#tokens.set(node, token);
    }
    return token;
  }

  #isWaypointPod(pod: RunningPod): boolean {
    return (
      pod.pod.metadata.labels?.[Labels.gatewayName] !== undefined && pod.pod.spec?.containers[0]?.name === "istio-proxy"
    );
  }

  async #startWaypoint(namespace: string, gateway: string, vip: string | undefined): Promise<void> {
    const view = this.#view;
    const cp = this.#cp;
    if (!view || !cp) return;
    const podObject = waypointPod(namespace, gateway);
    const pod = await this.cluster.addPod(podObject);
    view.putExtra(waypointServiceAccount(namespace, gateway));
    view.putExtra(reported(podObject, pod));
    view.putExtra(waypointService(namespace, gateway, vip));
    const wp = new WaypointPod({
      namespace,
      gateway,
      pod,
      xds: `127.0.0.1:${cp.xdsPort}`,
      ca: `127.0.0.1:${cp.caPort}`,
      rootPem: cp.ca.rootPem,
      token: this.#token(pod.node),
      trustDomain: this.trustDomain,
      logDir: this.logDir,
    });
    this.waypoints.set(`${namespace}/${gateway}`, wp);
    // The Gateway's status (address, Programmed) makes it a waypoint in the model, which then sends its config.
    view.refresh("Gateway", namespace, gateway);
    await wp.start();
    this.#progress.done(`waypoint ${namespace}/${gateway} ${pod.ip} on ${pod.node} (service ${vip ?? "no VIP"}:15008)`);
  }
}

function ns(o: KubeObject): string {
  return o.metadata.namespace ?? "default";
}

function key(o: KubeObject): string {
  return `${ns(o)}/${o.metadata.name}`;
}

/** The pod as the API server would show it once scheduled and running. */
function reported(pod: Pod, running: RunningPod): Pod {
  return {
    ...pod,
    metadata: { ...pod.metadata, namespace: running.namespace },
    spec: { ...(pod.spec ?? { containers: [] }), nodeName: running.node },
    status: { ...(pod.status ?? {}), phase: "Running", podIP: running.ip, podIPs: [{ ip: running.ip }] },
  } as Pod;
}

/** Gateways istiod would deploy a waypoint for (mesh-controller class). */
function waypointGateways(objects: readonly KubeObject[]): Gateway[] {
  const classes = new Map(
    objects.filter((o): o is GatewayClass => o.kind === "GatewayClass").map((c) => [c.metadata.name, c]),
  );
  return objects
    .filter((o): o is Gateway => o.kind === "Gateway")
    .filter((g) => {
      const cls = g.spec?.gatewayClassName ?? "";
      return cls === WAYPOINT_GATEWAY_CLASS || isMeshManagedClass(cls, classes.get(cls));
    });
}
