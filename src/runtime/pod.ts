// A pod on the local runtime: its containers as supervised processes in the pod's netns, their readiness
// probes, and the pod's readiness (every container running and passing its probe, as Kubernetes' Ready).
import { EventEmitter } from "node:events";
import type { Pod } from "../api/resources.js";
import { AmbitError } from "../errors.js";
import { type ContainerPlan, containerPlan, podFacts } from "./container-env.js";
import { containerLogPath } from "./logs.js";
import { httpProbeFor, ReadinessProber } from "./readiness.js";
import { type Backoff, type ContainerStatus, ContainerSupervisor, type RestartPolicy } from "./supervisor.js";
import type { PodNetwork } from "./topology.js";

export type PodPhase = "Pending" | "Running" | "ImageEntrypointUnsupported" | "Terminated";

export interface PodRunOptions {
  pod: Pod;
  network: PodNetwork;
  nodeName: string;
  hostIP: string;
  /** Containers' working directory: the manifests' or repository's root. */
  workDir: string;
  logDir: string;
  /** Environment every container starts from (PATH...); the container's env overrides it. */
  baseEnv: Record<string, string>;
  backoff?: Partial<Backoff>;
  gracePeriodMs?: number;
}

export interface PodStatusReport {
  phase: PodPhase;
  ready: boolean;
  /** Why the pod cannot run, for ImageEntrypointUnsupported. */
  message?: string;
  containers: Array<ContainerStatus & { ready: boolean; logFile: string }>;
}

export interface PodEvents {
  ready: [];
  unready: [];
  exited: [container: string, code: number | null, signal: string | null];
  backoff: [container: string, delayMs: number];
  error: [error: Error];
}

interface RunningContainer {
  supervisor: ContainerSupervisor;
  prober: ReadinessProber | undefined;
}

export class PodRunner extends EventEmitter<PodEvents> {
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly ip: string;
  readonly node: string;
  readonly pod: Pod;
  /** Resolves the first time the pod is ready; rejects if it cannot run or is stopped first. */
  readonly ready: Promise<void>;
  readonly #options: PodRunOptions;
  readonly #containers: RunningContainer[] = [];
  readonly #logFiles = new Map<string, string>();
  #phase: PodPhase = "Pending";
  #message: string | undefined;
  #ready = false;
  #settle: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(options: PodRunOptions) {
    super();
    this.#options = options;
    this.pod = options.pod;
    this.name = options.network.name;
    this.namespace = options.network.namespace;
    this.netns = options.network.netns;
    this.ip = options.network.ip;
    this.node = options.nodeName;
    this.ready = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Callers that never await readiness must not crash the process with an unhandled rejection.
    this.ready.catch(() => {});
  }

  get isReady(): boolean {
    return this.#ready;
  }

  get phase(): PodPhase {
    return this.#phase;
  }

  logFile(container?: string): string | undefined {
    const name = container ?? this.pod.spec?.containers[0]?.name;
    return name === undefined ? undefined : this.#logFiles.get(name);
  }

  start(): void {
    const o = this.#options;
    const facts = podFacts(this.pod, { podIP: this.ip, nodeName: this.node, hostIP: o.hostIP });
    const containers = this.pod.spec?.containers ?? [];
    for (const c of containers) {
      this.#logFiles.set(c.name, containerLogPath(o.logDir, this.namespace, this.name, c.name));
    }
    const plans = containers.map((c) => ({ container: c, plan: containerPlan(c, facts, { baseEnv: o.baseEnv }) }));
    const blocked = plans.find(
      (p): p is typeof p & { plan: Extract<ContainerPlan, { runnable: false }> } => !p.plan.runnable,
    );
    if (blocked) {
      // No process runs, but the netns stays: the pod remains addressable, e.g. as a test destination.
      this.#phase = "ImageEntrypointUnsupported";
      this.#message = blocked.plan.message;
      this.#settle?.reject(new AmbitError("AMBIT_RUNTIME_ENTRYPOINT_UNSUPPORTED", blocked.plan.message));
      return;
    }
    const restartPolicy = (this.pod.spec as { restartPolicy?: RestartPolicy } | undefined)?.restartPolicy;
    for (const { container, plan } of plans) {
      if (!plan.runnable) continue;
      const supervisor = new ContainerSupervisor({
        name: container.name,
        netns: this.netns,
        argv: plan.argv,
        env: plan.env,
        cwd: o.workDir,
        logFile: this.#logFiles.get(container.name) as string,
        ...(restartPolicy ? { restartPolicy } : {}),
        ...(o.backoff ? { backoff: o.backoff } : {}),
        ...(o.gracePeriodMs !== undefined ? { gracePeriodMs: o.gracePeriodMs } : {}),
      });
      const probe = httpProbeFor(container, this.ip);
      const entry: RunningContainer = { supervisor, prober: probe ? new ReadinessProber(probe) : undefined };
      entry.prober?.on("change", () => this.#recompute());
      supervisor.on("started", () => {
        entry.prober?.start();
        this.#recompute();
      });
      supervisor.on("exited", (code, signal) => {
        entry.prober?.stop();
        this.#recompute();
        this.emit("exited", container.name, code, signal);
      });
      supervisor.on("backoff", (delay) => this.emit("backoff", container.name, delay));
      supervisor.on("error", (e) => this.emit("error", e));
      this.#containers.push(entry);
    }
    this.#phase = "Running";
    for (const c of this.#containers) c.supervisor.start();
  }

  #containerReady(c: RunningContainer): boolean {
    return c.supervisor.status().phase === "Running" && (c.prober === undefined || c.prober.ready);
  }

  #recompute(): void {
    const ready =
      this.#phase === "Running" &&
      this.#containers.length > 0 &&
      this.#containers.every((c) => this.#containerReady(c));
    if (ready === this.#ready) return;
    this.#ready = ready;
    if (ready) {
      this.#settle?.resolve();
      this.emit("ready");
    } else {
      this.emit("unready");
    }
  }

  status(): PodStatusReport {
    return {
      phase: this.#phase,
      ready: this.#ready,
      ...(this.#message !== undefined ? { message: this.#message } : {}),
      containers: this.#containers.map((c) => ({
        ...c.supervisor.status(),
        ready: this.#containerReady(c),
        logFile: c.supervisor.spec.logFile,
      })),
    };
  }

  /** Stops probing, then every container (SIGTERM, SIGKILL after the grace period). */
  async stop(): Promise<void> {
    if (this.#phase === "Terminated") return;
    this.#phase = "Terminated";
    for (const c of this.#containers) c.prober?.stop();
    this.#recompute();
    // A no-op when the pod was ready before.
    this.#settle?.reject(new AmbitError("AMBIT_RUNTIME_POD_STOPPED", `pod ${this.namespace}/${this.name} stopped`));
    await Promise.all(this.#containers.map((c) => c.supervisor.stop()));
  }
}
