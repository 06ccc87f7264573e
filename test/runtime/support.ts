// Shared fixtures for the privileged runtime tests: why a suite must skip, per-process names and CIDRs so
// parallel runs never collide, and commands run inside a pod's netns.
import { run } from "../../src/dataplane/capture/exec.js";
import { prerequisites } from "../../src/runtime/prerequisites.js";

/** Why the privileged runtime tests cannot run here, or false when they can. */
export async function runtimeSkipReason(): Promise<string | false> {
  const missing = await prerequisites();
  return missing.length === 0 ? false : missing.map((m) => m.message).join("; ");
}

/** A runtime prefix unique to this process and suite ("amr" is no other suite's prefix). */
export function testPrefix(tag: string): string {
  return `amr${tag}${process.pid % 100000}`;
}

/** Pod and service CIDRs picked from 10.200-10.249 by pid, so two test processes do not overlap. */
export function testCidrs(salt: number): { podCidr: string; serviceCidr: string } {
  const second = 200 + ((process.pid + salt * 2) % 25) * 2;
  return { podCidr: `10.${second}.0.0/16`, serviceCidr: `10.${second + 1}.0.0/16` };
}

/** Runs a command inside the netns the way containers run (so /etc/netns files apply). */
export async function inPod(netns: string, command: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", netns, command, ...args])).stdout;
}

export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
