// `ambit exec [-n NS] POD -- CMD...`: runs a command inside the pod's netns (`ip netns exec`, so the pod's hosts
// file and resolv.conf apply), with the terminal's stdio and the command's exit code.
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { findExecutable } from "../dataplane/capture/probe.js";
import { AmbitError } from "../errors.js";
import { findStatePod, runningState } from "./local-state.js";

export function registerExec(program: Command, setExit: (code: number) => void): void {
  program
    .command("exec <pod> <command...>")
    .description("run a command in a pod's network namespace (put -- before the command)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("--prefix <p>", "the run's prefix", "ambit")
    .action(async (pod: string, command: string[], flags: { namespace: string; prefix: string }) => {
      setExit(await execInPod(flags.prefix, flags.namespace, pod, command));
    });
}

export async function execInPod(prefix: string, namespace: string, pod: string, command: string[]): Promise<number> {
  const target = findStatePod(runningState(prefix), namespace, pod);
  const ip = findExecutable("ip");
  if (!ip) throw new AmbitError("AMBIT_CLI_NOT_FOUND", "the ip command (iproute2) is not installed");
  const child = spawn(ip, ["netns", "exec", target.netns, ...command], { stdio: "inherit" });
  return new Promise((resolve) => {
    child.once("error", (e) => {
      process.stderr.write(`Error: ${e.message}\n`);
      resolve(127);
    });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return n[signal] ?? 1;
}
