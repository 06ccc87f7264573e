// Every kernel object and file a run creates is named from its prefix, so `teardownAll(prefix)` can find
// what a crashed run left behind. Names under the prefix are `<prefix>-<something>`; matching on the dash
// keeps a prefix from claiming another run's objects whose prefix merely starts the same way.
import { createHash } from "node:crypto";
import { AmbitError } from "../errors.js";

export const DEFAULT_PREFIX = "ambit";
// Root-netns link names must fit IFNAMSIZ (15 chars) with "-h" appended.
const PREFIX = /^[a-z][a-z0-9]{2,11}$/;
const NETNS_MAX = 63;

export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new AmbitError(
      "AMBIT_RUNTIME_BAD_PREFIX",
      `runtime prefix "${prefix}" must be 3-12 lowercase letters or digits, starting with a letter`,
    );
  }
  return prefix;
}

export function ownedBy(prefix: string, name: string): boolean {
  return name.startsWith(`${prefix}-`);
}

/** The netns holding the bridge every pod plugs into. */
export function clusterNetns(prefix: string): string {
  return `${prefix}-cluster`;
}

/** Root-netns end of the host <-> cluster veth pair (the only link Ambit adds to the host). */
export function hostLink(prefix: string): string {
  return `${prefix}-h`;
}

/** The same pair's end inside the cluster netns. */
export const CLUSTER_UPLINK = "uplink";
export const BRIDGE = "br0";
/** Pod-side interface name, as Kubernetes pods have. */
export const POD_IF = "eth0";

/**
 * A pod's netns: `<prefix>-<namespace>.<pod>`. Namespaces cannot contain dots, so the name is unique;
 * names too long for iproute2 are cut and made unique again with a hash.
 */
export function podNetns(prefix: string, namespace: string, pod: string): string {
  const full = `${prefix}-${namespace}.${pod}`;
  if (full.length <= NETNS_MAX) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, NETNS_MAX - 9)}-${hash}`;
}

/** Bridge-side veth name for a pod, derived from its IP so it is unique inside the cluster netns. */
export function podLink(ip: string): string {
  return `p${ip
    .split(".")
    .map((o) => Number(o).toString(16).padStart(2, "0"))
    .join("")}`;
}
