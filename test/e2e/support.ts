// Helpers for the end-to-end tests: root check, unique prefixes and CIDRs, clients run inside pods.
import { spawn } from "node:child_process";
import { missingPrerequisites } from "../../src/local/local-mesh.js";

/** Why the e2e tests cannot run here, or undefined when they can. */
export async function skipReason(): Promise<string | undefined> {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  const missing = await missingPrerequisites();
  return missing.length > 0 ? `needs root and the capture prerequisites: ${missing.join("; ")}` : undefined;
}

export function prefixFor(tag: string): string {
  return `ame${tag}${process.pid % 100000}`;
}

/** CIDRs in 10.150–10.199 (runtime tests use 10.200–10.249), picked by pid so parallel runs do not clash. */
export function cidrsFor(salt: number): { podCidr: string; serviceCidr: string } {
  const second = 150 + ((process.pid + salt * 7) % 25) * 2;
  return { podCidr: `10.${second}.0.0/16`, serviceCidr: `10.${second + 1}.0.0/16` };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command inside a pod's netns (what `ambit exec` does) and collects its output. */
export function inPod(netns: string, argv: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
