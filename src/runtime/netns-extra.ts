// The netns operations the capture module's helpers lack: processes inside a netns, sysctls, onlink
// routes and the per-netns /etc files `ip netns exec` bind-mounts.
import { rm } from "node:fs/promises";
import { run } from "../dataplane/capture/exec.js";

/** `ip netns exec` bind-mounts every file in this folder over /etc/<file> for the command it runs. */
export const NETNS_ETC_DIR = "/etc/netns";

export function netnsEtcDir(netns: string): string {
  return `${NETNS_ETC_DIR}/${netns}`;
}

export async function removeNetnsEtc(netns: string): Promise<void> {
  await rm(netnsEtcDir(netns), { recursive: true, force: true });
}

/** Pids of every process whose network namespace is `netns`. */
export async function netnsPids(netns: string): Promise<number[]> {
  const result = await run("ip", ["netns", "pids", netns], { allowFailure: true });
  if (result.code !== 0) return [];
  return result.stdout
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** SIGKILLs every process in the netns: a netns with a process in it outlives `ip netns del`. */
export async function killNetnsProcesses(netns: string): Promise<number[]> {
  const pids = await netnsPids(netns);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/** Writes /proc/sys/<key> as seen from inside the netns (net.* sysctls are per netns); needs only sh. */
export async function setSysctl(netns: string, key: string, value: string): Promise<void> {
  const path = `/proc/sys/${key.replaceAll(".", "/")}`;
  await run("ip", ["netns", "exec", netns, "sh", "-c", 'echo "$1" > "$2"', "sh", value, path]);
}

export interface IpRoute {
  dst: string;
  dev?: string;
}

export async function listRoutes(netns?: string): Promise<IpRoute[]> {
  const ns = netns === undefined ? [] : ["-n", netns];
  const { stdout } = await run("ip", [...ns, "-4", "-j", "route", "show"]);
  return stdout.trim() === "" ? [] : (JSON.parse(stdout) as IpRoute[]);
}
