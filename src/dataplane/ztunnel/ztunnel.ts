// The node proxy: one per node, one pod proxy per enrolled pod (in-pod mode), all asking one ProxyState and
// sharing metrics, the access log and the connection tracker. Configured only by state; lifecycle
// start() → addWorkload()/removeWorkload() → drain() → stop().

import { connect as netConnect, type Socket } from "node:net";
import { Registry } from "prom-client";
import { AmbitError } from "../../errors.js";
import type { CertificateManager } from "../../identity/cert-manager.js";
import type { ProxyState, StateChange } from "../state/proxy-state.js";
import { type WorkloadView, workloadIdentity } from "../state/types.js";
import { type AccessLogSink, stdoutSink } from "../telemetry/access-log.js";
import { TcpMetrics } from "../telemetry/tcp-metrics.js";
import { type AdminPorts, AdminServers } from "./admin.js";
import { configDump } from "./config-dump.js";
import { ConnectionTracker, type TrackedConnection } from "./connections.js";
import type { AppConnector, OriginalDestination, ProxyContext } from "./context.js";
import { PodProxy, type PodSockets } from "./pod-proxy.js";
import type { Picker } from "./route.js";

export interface ZtunnelOptions {
  node: string;
  state: ProxyState;
  certificates: CertificateManager;
  trustDomain?: string;
  /** The port pods accept HBONE on; 15008 (tests on loopback use a free one). */
  hbonePort?: number;
  /** Admin 15000, metrics 15020, readiness 15021 by default; 0 picks a free port. */
  ports?: Partial<AdminPorts>;
  /** Bind address of metrics and readiness (default 0.0.0.0); admin binds `adminHost` (default 127.0.0.1). */
  host?: string;
  adminHost?: string;
  accessLog?: AccessLogSink;
  /** The inbound leg to apps; default a plain connect (no source-IP preservation). */
  connectApp?: AppConnector;
  /** How long drain() waits for open connections (ztunnel's default grace is 5 s). */
  drainTimeoutMs?: number;
  /** How long a pod's first connection waits for its workload to arrive from the control plane (5 s). */
  workloadWaitMs?: number;
}

const plainConnect: AppConnector = (dst) =>
  new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: dst.address, port: dst.port, allowHalfOpen: true, noDelay: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });

export class Ztunnel {
  readonly registry = new Registry();
  readonly #opts: ZtunnelOptions;
  readonly #ctx: ProxyContext;
  readonly #tracker = new ConnectionTracker();
  readonly #pods = new Map<string, PodProxy>();
  readonly #admin: AdminServers;
  readonly #rr = new Map<string, number>();
  #ports: AdminPorts | undefined;
  #state: "new" | "running" | "draining" | "stopped" = "new";
  readonly #onChange = (c: StateChange) => this.#stateChanged(c);

  constructor(opts: ZtunnelOptions) {
    this.#opts = opts;
    const pick: Picker = (key, list) => {
      const n = this.#rr.get(key) ?? 0;
      this.#rr.set(key, n + 1);
      return list[n % list.length]!;
    };
    this.#ctx = {
      state: opts.state,
      certificates: opts.certificates,
      metrics: new TcpMetrics(this.registry),
      log: opts.accessLog ?? stdoutSink,
      tracker: this.#tracker,
      pick,
      hbonePort: opts.hbonePort ?? 15008,
      trustDomain: opts.trustDomain ?? "cluster.local",
      connectApp: opts.connectApp ?? plainConnect,
      localWorkload: (uid) => this.#waitForWorkload(uid),
    };
    this.#admin = new AdminServers({
      registry: this.registry,
      ready: () => this.ready,
      configDump: () => this.configDump(),
    });
  }

  /** Ready once running and the control plane's first answer arrived (the state is synced). */
  get ready(): boolean {
    return this.#state === "running" && this.#opts.state.synced;
  }

  /** The admin, metrics and readiness ports actually bound (after start). */
  get ports(): AdminPorts {
    if (!this.#ports) throw new AmbitError("AMBIT_ZTUNNEL_NOT_STARTED", "the ztunnel is not started");
    return this.#ports;
  }

  connections(): TrackedConnection[] {
    return this.#tracker.list();
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new AmbitError("AMBIT_ZTUNNEL_STATE", `cannot start a ${this.#state} ztunnel`);
    const p = this.#opts.ports ?? {};
    this.#ports = await this.#admin.start(
      { admin: p.admin ?? 15000, metrics: p.metrics ?? 15020, readiness: p.readiness ?? 15021 },
      this.#opts.host ?? "0.0.0.0",
      this.#opts.adminHost ?? "127.0.0.1",
    );
    this.#opts.state.on("change", this.#onChange);
    this.#state = "running";
  }

  /** Takes over a pod's listeners (created in its netns by the runtime) and starts proxying for it. */
  async addWorkload(uid: string, sockets: PodSockets, originalDestination: OriginalDestination): Promise<void> {
    if (this.#state !== "running")
      throw new AmbitError("AMBIT_ZTUNNEL_STATE", `cannot add a pod to a ${this.#state} ztunnel`);
    if (this.#pods.has(uid)) throw new AmbitError("AMBIT_ZTUNNEL_DUPLICATE_POD", `pod ${uid} is already proxied`);
    const pod = new PodProxy(this.#ctx, uid, sockets, originalDestination);
    this.#pods.set(uid, pod);
    try {
      await pod.start();
    } catch (e) {
      this.#pods.delete(uid);
      await pod.stop();
      throw e;
    }
  }

  /** Tears the pod's proxy down at once (ZDS `del`): its connections are cut. */
  async removeWorkload(uid: string): Promise<void> {
    const pod = this.#pods.get(uid);
    if (!pod) return;
    this.#pods.delete(uid);
    this.#tracker.closeWhere((c) => c.workloadUid === uid, "pod removed");
    await pod.stop();
    const w = this.#opts.state.workload(uid);
    if (w && !this.#localIdentities().has(workloadIdentity(w))) this.#opts.certificates.remove(workloadIdentity(w));
  }

  /** Stops accepting everywhere and waits for open connections up to the grace period, then cuts the rest. */
  async drain(timeoutMs = this.#opts.drainTimeoutMs ?? 5_000): Promise<void> {
    if (this.#state !== "running") return;
    this.#state = "draining";
    const deadline = Date.now() + timeoutMs;
    await Promise.all([...this.#pods.values()].map((p) => p.drain(timeoutMs)));
    await this.#tracker.idle(Math.max(0, deadline - Date.now()));
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    this.#opts.state.off("change", this.#onChange);
    this.#tracker.closeWhere(() => true, "ztunnel stopped");
    const pods = [...this.#pods.values()];
    this.#pods.clear();
    await Promise.all(pods.map((p) => p.stop()));
    await this.#admin.stop();
  }

  configDump(): unknown {
    return configDump({
      state: this.#opts.state,
      certificates: this.#opts.certificates,
      pods: [...this.#pods.keys()],
      connections: this.#tracker.list(),
      config: { node: this.#opts.node, trustDomain: this.#ctx.trustDomain, hbonePort: this.#ctx.hbonePort },
    });
  }

  #localIdentities(): Set<string> {
    const ids = new Set<string>();
    for (const uid of this.#pods.keys()) {
      const w = this.#opts.state.workload(uid);
      if (w) ids.add(workloadIdentity(w));
    }
    return ids;
  }

  #stateChanged(c: StateChange): void {
    // A workload update can change which selector policies it names, so both re-run authorization.
    if (c.policies || c.workloads.length > 0) this.#tracker.reauthorize();
    for (const uid of c.workloads) {
      const w = this.#pods.has(uid) ? this.#opts.state.workload(uid) : undefined;
      if (w) this.#opts.certificates.add(workloadIdentity(w));
    }
  }

  /** Lazy readiness (data-plane.md §2.2): listeners accept at once and wait for the workload to arrive. */
  #waitForWorkload(uid: string): Promise<WorkloadView | undefined> {
    const state = this.#opts.state;
    const now = state.workload(uid);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const onChange = (c: StateChange) => {
        if (!c.workloads.includes(uid)) return;
        const w = state.workload(uid);
        if (!w) return;
        clearTimeout(timer);
        state.off("change", onChange);
        resolve(w);
      };
      const timer = setTimeout(() => {
        state.off("change", onChange);
        resolve(undefined);
      }, this.#opts.workloadWaitMs ?? 5_000);
      state.on("change", onChange);
    });
  }
}
