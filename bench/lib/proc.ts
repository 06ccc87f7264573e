// CPU time and RSS of a process read from /proc, so proxies that are not our Node children (nginx) are measured
// the same way as those that are.

import { readdirSync, readFileSync } from "node:fs";

/** Fields after the command name in /proc/<pid>/stat (the name may contain spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** User + system CPU time in ms (utime and stime are in clock ticks of 10 ms on Linux). */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) * 10;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** The direct children of a process (nginx's workers of a master), found by their parent pid. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === pid) out.push(Number(name));
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}
