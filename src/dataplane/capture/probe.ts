// What `ambit up` needs before it can capture traffic, each with the fix a person can apply.
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { run } from "./exec.js";
import { applyInpodRules, removeInpodRules } from "./iptables.js";
import { isCaptureAddonAvailable } from "./native.js";
import { cleanupPrefix, createNetns } from "./netns.js";

export interface MissingPrerequisite {
  /** Stable id: platform, privileges, ip, iptables, iptables-restore, iptables-save, netfilter, addon. */
  id: string;
  message: string;
}

export interface ProbeOptions {
  /** Also install and remove the in-pod rules in a throwaway netns, proving the kernel supports them. Default true. */
  deep?: boolean;
}

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
// sbin is often missing from a non-root PATH, yet that is where Debian installs ip and iptables.
const EXTRA_DIRS = ["/usr/sbin", "/sbin"];

export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

function onPath(name: string): boolean {
  const found = findExecutable(name);
  return found !== undefined && (process.env.PATH ?? "").split(delimiter).some((dir) => found === join(dir, name));
}

function hasNetworkAdminCaps(): boolean {
  if (process.getuid?.() === 0) return true;
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("CapEff:"));
  if (!line) return false;
  const caps = BigInt(`0x${line.slice("CapEff:".length).trim()}`);
  return ((caps >> CAP_NET_ADMIN) & 1n) === 1n && ((caps >> CAP_SYS_ADMIN) & 1n) === 1n;
}

const TOOLS: readonly { name: string; pkg: string }[] = [
  { name: "ip", pkg: "iproute2" },
  { name: "iptables", pkg: "iptables" },
  { name: "iptables-restore", pkg: "iptables" },
  { name: "iptables-save", pkg: "iptables" },
];

/** Lists what is missing for traffic capture; an empty list means `ambit up` can capture. */
export async function checkCapturePrerequisites(options: ProbeOptions = {}): Promise<MissingPrerequisite[]> {
  if (process.platform !== "linux") {
    return [{ id: "platform", message: `traffic capture needs Linux network namespaces; this is ${process.platform}` }];
  }
  const missing: MissingPrerequisite[] = [];
  const privileged = hasNetworkAdminCaps();
  if (!privileged) {
    missing.push({
      id: "privileges",
      message: "run as root (sudo): network namespaces and iptables need CAP_NET_ADMIN and CAP_SYS_ADMIN",
    });
  }
  for (const tool of TOOLS) {
    if (onPath(tool.name)) continue;
    const elsewhere = findExecutable(tool.name);
    missing.push({
      id: tool.name,
      message:
        elsewhere === undefined
          ? `${tool.name} is not installed: apt-get install -y ${tool.pkg}`
          : `${tool.name} is at ${elsewhere} but not on PATH: add ${elsewhere.slice(0, -tool.name.length - 1)} to PATH`,
    });
  }
  if (!isCaptureAddonAvailable()) {
    missing.push({
      id: "addon",
      message: "the capture addon is not built: run npm run build:native (needs python3, make and a C compiler)",
    });
  }
  if ((options.deep ?? true) && privileged && missing.length === 0) {
    const problem = await tryRulesInThrowawayNetns();
    if (problem !== undefined) missing.push({ id: "netfilter", message: problem });
  }
  return missing;
}

async function tryRulesInThrowawayNetns(): Promise<string | undefined> {
  const prefix = `amprb${process.pid}`.slice(0, 12);
  try {
    await createNetns(`${prefix}-ns`);
    await applyInpodRules(`${prefix}-ns`);
    await removeInpodRules(`${prefix}-ns`);
    return undefined;
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    const version = await run("iptables", ["-V"], { allowFailure: true });
    return `the kernel refused the capture rules (${version.stdout.trim()}): ${detail}; it needs netfilter NAT, REDIRECT, mark, connmark and CONNMARK`;
  } finally {
    await cleanupPrefix(prefix);
  }
}
