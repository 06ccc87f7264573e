// Network namespaces, bridges and veth pairs through iproute2: the wiring of virtual nodes and pods.
// Everything Ambit creates carries a caller-chosen name prefix so `cleanupPrefix` can remove it all.
import { setTimeout as sleep } from "node:timers/promises";
import { AmbitError } from "../../errors.js";
import { run } from "./exec.js";

export const NETNS_DIR = "/run/netns";

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// IFNAMSIZ is 16 bytes including the terminating NUL.
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const PREFIX = /^[A-Za-z][A-Za-z0-9_.-]{2,11}$/;
// Only link kinds Ambit creates are ever deleted by prefix; physical devices have no kind.
const REMOVABLE_KINDS = new Set(["veth", "bridge", "dummy"]);

function checkNetnsName(name: string): string {
  if (!NETNS_NAME.test(name))
    throw new AmbitError("AMBIT_CAPTURE_BAD_NAME", `invalid network namespace name "${name}"`);
  return name;
}

function checkLinkName(name: string): string {
  if (!LINK_NAME.test(name)) {
    throw new AmbitError("AMBIT_CAPTURE_BAD_NAME", `invalid link name "${name}" (1-15 of [A-Za-z0-9_.-])`);
  }
  return name;
}

function nsArgs(netns: string | undefined): string[] {
  return netns === undefined ? [] : ["-n", checkNetnsName(netns)];
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${checkNetnsName(name)}`;
}

/** Creates a named netns with its loopback up; returns its path for `socketInNetns`. */
export async function createNetns(name: string): Promise<string> {
  await run("ip", ["netns", "add", checkNetnsName(name)]);
  await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  return netnsPath(name);
}

/** Deletes a netns; a missing one is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  const result = await run("ip", ["netns", "del", checkNetnsName(name)], { allowFailure: true });
  if (result.code !== 0 && (await listNetns()).includes(name)) {
    throw new AmbitError("AMBIT_CAPTURE_COMMAND_FAILED", `ip netns del ${name}: ${result.stderr.trim()}`);
  }
}

export async function listNetns(prefix = ""): Promise<string[]> {
  const { stdout } = await run("ip", ["-j", "netns", "list"]);
  if (stdout.trim() === "") return [];
  const entries = JSON.parse(stdout) as { name: string }[];
  return entries.map((e) => e.name).filter((name) => name.startsWith(prefix));
}

export interface LinkInfo {
  name: string;
  kind: string | undefined;
  up: boolean;
}

export async function listLinks(prefix = "", netns?: string): Promise<LinkInfo[]> {
  const { stdout } = await run("ip", [...nsArgs(netns), "-d", "-j", "link", "show"]);
  const links = JSON.parse(stdout) as { ifname: string; flags?: string[]; linkinfo?: { info_kind?: string } }[];
  return links
    .filter((l) => l.ifname.startsWith(prefix))
    .map((l) => ({ name: l.ifname, kind: l.linkinfo?.info_kind, up: l.flags?.includes("UP") ?? false }));
}

export async function setLinkUp(name: string, netns?: string): Promise<void> {
  await run("ip", [...nsArgs(netns), "link", "set", checkLinkName(name), "up"]);
}

/** Adds an address in CIDR form; IPv6 addresses skip duplicate address detection so they are usable at once. */
export async function addAddress(dev: string, cidr: string, netns?: string): Promise<void> {
  const extra = cidr.includes(":") ? ["nodad"] : [];
  await run("ip", [...nsArgs(netns), "addr", "add", cidr, "dev", checkLinkName(dev), ...extra]);
}

export interface BridgeOptions {
  /** Netns holding the bridge; the root netns when absent. */
  netns?: string;
  /** Gateway addresses in CIDR form, e.g. "10.250.1.254/24". */
  addresses?: readonly string[];
}

export async function createBridge(name: string, options: BridgeOptions = {}): Promise<void> {
  await run("ip", [...nsArgs(options.netns), "link", "add", checkLinkName(name), "type", "bridge"]);
  for (const cidr of options.addresses ?? []) await addAddress(name, cidr, options.netns);
  await setLinkUp(name, options.netns);
}

export interface VethOptions {
  name: string;
  peer: string;
  /** Netns of `name`; root when absent. */
  netns?: string;
  /** Netns of `peer`; the peer is created directly inside it, so names like eth0 never clash with the host's. */
  peerNetns?: string;
}

export async function createVethPair(options: VethOptions): Promise<void> {
  const peerNs = options.peerNetns === undefined ? [] : ["netns", checkNetnsName(options.peerNetns)];
  await run("ip", [
    ...nsArgs(options.netns),
    "link",
    "add",
    checkLinkName(options.name),
    "type",
    "veth",
    "peer",
    "name",
    checkLinkName(options.peer),
    ...peerNs,
  ]);
}

export interface RouteOptions {
  /** "default" or a CIDR. */
  to: string;
  via?: string;
  dev?: string;
  table?: number;
  type?: "unicast" | "local";
  netns?: string;
}

export async function addRoute(options: RouteOptions): Promise<void> {
  const args = [...nsArgs(options.netns), options.to.includes(":") ? "-6" : "-4", "route", "add"];
  if (options.type === "local") args.push("local");
  args.push(options.to);
  if (options.via !== undefined) args.push("via", options.via);
  if (options.dev !== undefined) args.push("dev", checkLinkName(options.dev));
  if (options.table !== undefined) args.push("table", String(options.table));
  await run("ip", args);
}

export interface PodAttachment {
  /** The pod's netns. */
  netns: string;
  bridge: string;
  /** Netns holding the bridge; root when absent. */
  bridgeNetns?: string;
  /** Bridge-side end of the veth pair (carries the cleanup prefix). */
  hostIf: string;
  /** Pod-side name; "eth0" by default. */
  podIf?: string;
  /** Pod addresses in CIDR form. */
  addresses: readonly string[];
  /** Default-route gateways (the bridge's addresses), IPv4 and/or IPv6. */
  gateways?: readonly string[];
}

/** Plugs a pod netns into a bridge: veth pair, addresses, links up, default routes. */
export async function attachToBridge(pod: PodAttachment): Promise<void> {
  const podIf = pod.podIf ?? "eth0";
  await createVethPair({ name: pod.hostIf, peer: podIf, netns: pod.bridgeNetns, peerNetns: pod.netns });
  await run("ip", [...nsArgs(pod.bridgeNetns), "link", "set", checkLinkName(pod.hostIf), "master", pod.bridge, "up"]);
  for (const cidr of pod.addresses) await addAddress(podIf, cidr, pod.netns);
  await setLinkUp(podIf, pod.netns);
  for (const gateway of pod.gateways ?? []) await addRoute({ to: "default", via: gateway, netns: pod.netns });
}

async function removableLinks(prefix: string): Promise<LinkInfo[]> {
  return (await listLinks(prefix)).filter((l) => l.kind !== undefined && REMOVABLE_KINDS.has(l.kind));
}

export interface CleanupResult {
  netns: string[];
  links: string[];
}

/**
 * Removes every netns and every virtual link (veth, bridge, dummy) in the root netns whose name starts
 * with `prefix`, then waits until the kernel has really let go of them (veth teardown is asynchronous).
 * Idempotent: running it twice, or with nothing to remove, is fine.
 */
export async function cleanupPrefix(prefix: string, timeoutMs = 5000): Promise<CleanupResult> {
  if (!PREFIX.test(prefix)) {
    throw new AmbitError(
      "AMBIT_CAPTURE_BAD_NAME",
      `cleanup prefix "${prefix}" must be 3-12 chars starting with a letter`,
    );
  }
  const netns = await listNetns(prefix);
  for (const name of netns) await deleteNetns(name);
  const links = await removableLinks(prefix);
  for (const link of links) await run("ip", ["link", "del", link.name], { allowFailure: true });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = [...(await listNetns(prefix)), ...(await removableLinks(prefix)).map((l) => l.name)];
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      throw new AmbitError("AMBIT_CAPTURE_CLEANUP_TIMEOUT", `still present after cleanup: ${left.join(", ")}`);
    }
    await sleep(50);
  }
  return { netns, links: links.map((l) => l.name) };
}
