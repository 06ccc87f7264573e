// What `ambit up` needs from the machine before it builds a cluster network, each with the fix a person can
// apply. Only the runtime's own needs: traffic capture has its own check in dataplane/capture/probe.ts.
import { access, constants } from "node:fs/promises";
import { delimiter, dirname } from "node:path";
import { findExecutable } from "../dataplane/capture/probe.js";

export interface MissingPrerequisite {
  /** Stable id: platform, root, ip, iptables, iptables-save, iptables-restore, etc. */
  id: string;
  message: string;
}

const TOOLS: readonly { name: string; pkg: string }[] = [
  { name: "ip", pkg: "iproute2" },
  { name: "iptables", pkg: "iptables" },
  { name: "iptables-save", pkg: "iptables" },
  { name: "iptables-restore", pkg: "iptables" },
];

/** An empty list means the local runtime can run here. */
export async function prerequisites(): Promise<MissingPrerequisite[]> {
  if (process.platform !== "linux") {
    return [{ id: "platform", message: `ambit up needs Linux network namespaces; this is ${process.platform}` }];
  }
  const missing: MissingPrerequisite[] = [];
  if (process.getuid?.() !== 0) {
    missing.push({
      id: "root",
      message: "run as root (sudo ambit up ...): pods are network namespaces and Services are iptables rules",
    });
  }
  const path = (process.env.PATH ?? "").split(delimiter);
  for (const tool of TOOLS) {
    const found = findExecutable(tool.name);
    if (found === undefined) {
      missing.push({ id: tool.name, message: `${tool.name} is not installed: apt-get install -y ${tool.pkg}` });
    } else if (!path.includes(dirname(found))) {
      missing.push({
        id: tool.name,
        message: `${tool.name} is at ${found} but not on PATH: add ${dirname(found)} to PATH`,
      });
    }
  }
  try {
    await access("/etc", constants.W_OK);
  } catch {
    missing.push({ id: "etc", message: "/etc is not writable: pod DNS files live in /etc/netns/<pod netns>/" });
  }
  return missing;
}
