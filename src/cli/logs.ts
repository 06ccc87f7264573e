// `ambit logs [-n NS] POD [-c CONTAINER] [-f]`: a pod's container log (apps, and the proxies: ztunnels as
// istio-system/ztunnel-<node>, waypoints as their pods, the control plane as istio-system/istiod).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { AmbitError } from "../errors.js";
import { defaultLogDir } from "../local/local-mesh.js";
import { containerLogPath, followLog, readLog } from "../runtime/index.js";
import { findStatePod, runningState } from "./local-state.js";

interface LogsFlags {
  namespace: string;
  prefix: string;
  container?: string;
  follow?: boolean;
  tail?: string;
}

export function registerLogs(program: Command, setExit: (code: number) => void): void {
  program
    .command("logs <pod>")
    .description("print a pod's log (ztunnels: -n istio-system ztunnel-node-1; control plane: istiod)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("-c, --container <name>", "container (default: the pod's first)")
    .option("-f, --follow", "keep printing as the log grows, until Ctrl-C")
    .option("--tail <n>", "only the last n lines")
    .option("--prefix <p>", "the run's prefix", "ambit")
    .action(async (pod: string, flags: LogsFlags) => {
      setExit(await printLogs(pod, flags));
    });
}

async function printLogs(pod: string, flags: LogsFlags): Promise<number> {
  const logDir = defaultLogDir(flags.prefix);
  const name = resolvePodName(flags.prefix, flags.namespace, pod, logDir);
  const dir = join(logDir, flags.namespace, name);
  const container = flags.container ?? firstContainer(dir);
  const path = containerLogPath(logDir, flags.namespace, name, container);
  const tail = flags.tail === undefined ? undefined : Number.parseInt(flags.tail, 10);
  const opts = tail !== undefined && Number.isFinite(tail) ? { tail } : {};
  if (!flags.follow) {
    process.stdout.write(await readLog(path, opts));
    return 0;
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for await (const chunk of followLog(path, { ...opts, signal: ac.signal })) process.stdout.write(chunk);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return 0;
}

/** Pods of the running mesh by name (a Deployment name picks its first pod); proxies by their log folder. */
function resolvePodName(prefix: string, namespace: string, pod: string, logDir: string): string {
  try {
    return findStatePod(runningState(prefix), namespace, pod).name;
  } catch (e) {
    const dirs = listDir(join(logDir, namespace));
    if (dirs.includes(pod)) return pod;
    throw e;
  }
}

function firstContainer(dir: string): string {
  const files = listDir(dir).filter((f) => f.endsWith(".log"));
  const first = files.sort()[0];
  if (!first) throw new AmbitError("AMBIT_CLI_NOT_FOUND", `no logs in ${dir}`);
  return first.slice(0, -".log".length);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
