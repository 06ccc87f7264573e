// readinessProbe.httpGet, polled from the host (root netns) to podIP:port as kubelet probes from the node:
// a 2xx or 3xx answer within the timeout is a success; successThreshold/failureThreshold consecutive
// results flip the state.
import { EventEmitter } from "node:events";
import { request } from "node:http";
import type { Container } from "../api/resources.js";

export interface HttpProbe {
  host: string;
  port: number;
  path: string;
  periodMs: number;
  timeoutMs: number;
  initialDelayMs: number;
  successThreshold: number;
  failureThreshold: number;
}

interface ProbeFields {
  httpGet?: { path?: string; port: number | string; host?: string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  initialDelaySeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

/**
 * The container's HTTP readiness probe against `podIP`, or undefined when it has none (the container is
 * then ready once running). A named port resolves through the container's ports. The period defaults to
 * 1 s rather than Kubernetes' 10 s, so a local run becomes ready quickly.
 */
export function httpProbeFor(container: Container, podIP: string): HttpProbe | undefined {
  const probe = container.readinessProbe as ProbeFields | undefined;
  const get = probe?.httpGet;
  if (!probe || !get) return undefined;
  const port =
    typeof get.port === "number"
      ? get.port
      : /^\d+$/.test(get.port)
        ? Number(get.port)
        : container.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) return undefined;
  return {
    host: get.host ?? podIP,
    port,
    path: get.path ?? "/",
    periodMs: (probe.periodSeconds ?? 1) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** One probe attempt: true for a 2xx/3xx answer in time. */
export function probeOnce(probe: HttpProbe): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: probe.host, port: probe.port, path: probe.path, method: "GET", agent: false, timeout: probe.timeoutMs },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.setHeader("User-Agent", "ambit-probe/1");
    req.end();
  });
}

export interface ReadinessEvents {
  change: [ready: boolean];
}

export class ReadinessProber extends EventEmitter<ReadinessEvents> {
  readonly probe: HttpProbe;
  #ready = false;
  #streak = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(probe: HttpProbe) {
    super();
    this.probe = probe;
  }

  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.probe.initialDelayMs);
  }

  /** Stops probing and forgets the state (a restarted container starts unready). */
  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#streak = 0;
    this.#set(false);
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => void this.#tick(), delay);
  }

  async #tick(): Promise<void> {
    const ok = await probeOnce(this.probe);
    if (!this.#running) return;
    // The streak counts consecutive results that disagree with the current state.
    this.#streak = ok !== this.#ready ? this.#streak + 1 : 0;
    const needed = this.#ready ? this.probe.failureThreshold : this.probe.successThreshold;
    if (this.#streak >= needed) {
      this.#streak = 0;
      this.#set(ok);
    }
    this.#schedule(this.probe.periodMs);
  }

  #set(ready: boolean): void {
    if (ready === this.#ready) return;
    this.#ready = ready;
    this.emit("change", ready);
  }
}
