// One container as a process inside its pod's netns, kept running the way kubelet does: restart on exit
// (per restartPolicy) with exponential back-off, reset once it has run long enough. The process runs under
// `ip netns exec`, which enters the netns, bind-mounts /etc/netns/<netns>/* over /etc and execs the command
// in place, so the pid we hold is the container's own and it leads its process group.
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { findExecutable } from "../dataplane/capture/probe.js";

// Resolved once from this process's PATH (plus sbin), so a container env without sbin on PATH still starts.
let ipPath: string | undefined;
function ipCommand(): string {
  ipPath ??= findExecutable("ip") ?? "ip";
  return ipPath;
}

export type RestartPolicy = "Always" | "OnFailure" | "Never";

export interface Backoff {
  /** First restart delay. Default 1 s. */
  initialMs: number;
  /** Delay cap. Default 10 s (kubelet's is 5 min; a local run wants faster recovery). */
  maxMs: number;
  /** A run at least this long resets the delay to initialMs. Default 10 s. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 10_000, resetAfterMs: 10_000 };

/** The delay before restart number `failures` (1-based): initial * 2^(failures-1), capped. */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
}

export interface ContainerSpec {
  name: string;
  netns: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  restartPolicy?: RestartPolicy;
  backoff?: Partial<Backoff>;
  /** SIGTERM-to-SIGKILL grace on stop. Default 5 s. */
  gracePeriodMs?: number;
}

export type ContainerPhase = "Waiting" | "Running" | "CrashLoopBackOff" | "Terminated";

export interface ContainerStatus {
  name: string;
  phase: ContainerPhase;
  pid: number | undefined;
  restartCount: number;
  lastExit: { code: number | null; signal: string | null; at: Date } | undefined;
  /** When the next start is due, while in back-off. */
  nextStartAt: Date | undefined;
}

export interface ContainerEvents {
  started: [pid: number];
  exited: [code: number | null, signal: string | null];
  backoff: [delayMs: number];
  error: [error: Error];
}

export class ContainerSupervisor extends EventEmitter<ContainerEvents> {
  readonly spec: ContainerSpec;
  readonly #backoff: Backoff;
  #child: ChildProcess | undefined;
  #startedAt = 0;
  #failures = 0;
  #restartCount = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #phase: ContainerPhase = "Waiting";
  #lastExit: ContainerStatus["lastExit"];
  #nextStartAt: Date | undefined;

  constructor(spec: ContainerSpec) {
    super();
    this.spec = spec;
    this.#backoff = { ...DEFAULT_BACKOFF, ...spec.backoff };
  }

  start(): void {
    if (this.#stopping || this.#child) return;
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    const fd = openSync(this.spec.logFile, "a");
    let child: ChildProcess;
    try {
      const [command, ...args] = this.spec.argv;
      child = spawn(ipCommand(), ["netns", "exec", this.spec.netns, command as string, ...args], {
        cwd: this.spec.cwd,
        env: this.spec.env,
        stdio: ["ignore", fd, fd],
        // Its own process group, so stop() reaches everything the container forks.
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#startedAt = Date.now();
    this.#phase = "Running";
    this.#nextStartAt = undefined;
    child.on("error", (e) => this.emit("error", e));
    child.once("spawn", () => {
      if (child.pid !== undefined) this.emit("started", child.pid);
    });
    child.once("exit", (code, signal) => this.#onExit(code, signal));
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#child = undefined;
    this.#lastExit = { code, signal, at: new Date() };
    this.emit("exited", code, signal);
    if (this.#stopping || !this.#shouldRestart(code)) {
      this.#phase = "Terminated";
      return;
    }
    if (Date.now() - this.#startedAt >= this.#backoff.resetAfterMs) this.#failures = 0;
    this.#failures++;
    const delay = backoffDelay(this.#backoff, this.#failures);
    this.#phase = "CrashLoopBackOff";
    this.#nextStartAt = new Date(Date.now() + delay);
    this.emit("backoff", delay);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#restartCount++;
      this.start();
    }, delay);
  }

  #shouldRestart(code: number | null): boolean {
    const policy = this.spec.restartPolicy ?? "Always";
    return policy === "Always" || (policy === "OnFailure" && code !== 0);
  }

  status(): ContainerStatus {
    return {
      name: this.spec.name,
      phase: this.#phase,
      pid: this.#child?.pid,
      restartCount: this.#restartCount,
      lastExit: this.#lastExit,
      nextStartAt: this.#nextStartAt,
    };
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; no restart afterwards. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    if (!child || child.pid === undefined) {
      this.#phase = "Terminated";
      return;
    }
    const exited = once(child, "exit");
    signalGroup(child.pid, "SIGTERM");
    const grace = setTimeout(() => signalGroup(child.pid as number, "SIGKILL"), this.spec.gracePeriodMs ?? 5000);
    try {
      await exited;
    } finally {
      clearTimeout(grace);
    }
    // Whatever the container forked and left behind in its group goes too.
    signalGroup(child.pid, "SIGKILL");
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already empty.
  }
}
