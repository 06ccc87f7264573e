// Name resolution inside pods without a DNS server: `ip netns exec` bind-mounts /etc/netns/<netns>/hosts and
// resolv.conf over /etc, and glibc (nsswitch `hosts: files dns`) answers from the hosts file first. Each pod
// gets every Service as `svc.ns`, `svc.ns.svc` and `svc.ns.svc.<domain>`, plus the bare `svc` for Services
// of its own namespace (what its search path would resolve), ServiceEntry hosts that have addresses, and
// its own name. resolv.conf names the kube-dns-style address in the service CIDR, which nothing serves and
// which never leaves the machine: plain queries fail fast, and ztunnel's DNS capture can still catch them.
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { netnsEtcDir } from "./netns-extra.js";

export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

export interface ServiceName {
  name: string;
  namespace: string;
  vip: string;
}

export interface HostAlias {
  ip: string;
  hostnames: string[];
}

export interface PodDnsInput {
  podName: string;
  podNamespace: string;
  podIP: string;
  services: readonly ServiceName[];
  /** ServiceEntry hosts with an address, and anything else the caller wants resolvable. */
  aliases?: readonly HostAlias[];
  clusterDomain?: string;
}

/** The names a pod in `podNamespace` resolves a Service by. */
export function serviceHostnames(
  service: ServiceName,
  podNamespace: string,
  domain = DEFAULT_CLUSTER_DOMAIN,
): string[] {
  const names = [
    `${service.name}.${service.namespace}`,
    `${service.name}.${service.namespace}.svc`,
    `${service.name}.${service.namespace}.svc.${domain}`,
  ];
  return service.namespace === podNamespace ? [service.name, ...names] : names;
}

/** The pod's hosts file; the same input always renders the same text. */
export function renderHosts(input: PodDnsInput): string {
  const domain = input.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  const lines = [
    "# Written by Ambit's local runtime; rewritten when Services change.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${input.podIP}\t${input.podName}`,
  ];
  const services = [...input.services].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  for (const service of services) {
    lines.push(`${service.vip}\t${serviceHostnames(service, input.podNamespace, domain).join(" ")}`);
  }
  for (const alias of input.aliases ?? []) {
    if (alias.hostnames.length > 0) lines.push(`${alias.ip}\t${alias.hostnames.join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}

export function renderResolvConf(podNamespace: string, nameserver: string, domain = DEFAULT_CLUSTER_DOMAIN): string {
  return [
    "# Written by Ambit's local runtime: names resolve from /etc/hosts; nothing answers this nameserver.",
    `search ${podNamespace}.svc.${domain} svc.${domain} ${domain}`,
    `nameserver ${nameserver}`,
    "options ndots:5 timeout:1 attempts:1",
    "",
  ].join("\n");
}

/**
 * Writes one of the netns' /etc files. A new file appears atomically (write, then rename). An existing
 * one is bind-mounted into running containers, which keep the inode they mounted, so a rename would go
 * unseen: it is overwritten in place with a single write, padded with a comment to at least its old length
 * so it never has to be truncated and a reader never sees it empty or cut short.
 */
export async function writeNetnsEtcFile(netns: string, file: "hosts" | "resolv.conf", text: string): Promise<void> {
  const dir = netnsEtcDir(netns);
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r+");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(temp, text);
    await rename(temp, path);
    return;
  }
  try {
    const { size } = await handle.stat();
    const body = Buffer.from(text);
    const padding =
      size > body.length ? Buffer.from(`#${" ".repeat(Math.max(0, size - body.length - 2))}\n`) : undefined;
    const bytes = padding ? Buffer.concat([body, padding]) : body;
    await handle.write(bytes, 0, bytes.length, 0);
  } finally {
    await handle.close();
  }
}

export async function writePodDns(netns: string, input: PodDnsInput, nameserver: string): Promise<void> {
  await writeNetnsEtcFile(netns, "hosts", renderHosts(input));
  await writeNetnsEtcFile(netns, "resolv.conf", renderResolvConf(input.podNamespace, nameserver, input.clusterDomain));
}
