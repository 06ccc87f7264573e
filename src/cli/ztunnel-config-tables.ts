// The `ztunnel-config` summary tables, column for column as istioctl prints them (user-needs.md §2.2): pure
// functions from dump sections and filters to rows. Sorting compares bytes, as Go's cmp.Compare does.

import type {
  DumpCert,
  DumpCertificate,
  DumpConnection,
  DumpService,
  DumpWorkload,
  DumpWorkloadState,
} from "./ztunnel-config-dump.js";

export type Row = string[];

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const same = (a: string | undefined, b: string): boolean => (a ?? "").toLowerCase() === b.toLowerCase();

export interface WorkloadFilter {
  namespace?: string;
  address?: string;
  node?: string;
}

export function filterWorkloads(workloads: readonly DumpWorkload[], f: WorkloadFilter): DumpWorkload[] {
  return workloads.filter(
    (w) =>
      (!f.namespace || same(w.namespace, f.namespace)) &&
      (!f.address || (w.workloadIps ?? []).some((ip) => same(ip, f.address ?? ""))) &&
      (!f.node || same(w.node, f.node)),
  );
}

export function sortWorkloads(workloads: DumpWorkload[]): DumpWorkload[] {
  return workloads.sort(
    (a, b) => cmp(`${a.namespace}.${a.name}`, `${b.namespace}.${b.name}`) || cmp(a.node ?? "", b.node ?? ""),
  );
}

/** A waypoint reference names a Service by `ns/hostname` or by one of its VIPs (`network/ip`). */
function waypointName(destination: string | undefined, services: readonly DumpService[]): string {
  if (destination === undefined) return "None";
  const svc = services.find(
    (s) => `${s.namespace}/${s.hostname}` === destination || (s.vips ?? []).includes(destination),
  );
  return svc ? svc.name : "NA";
}

export function workloadRows(workloads: readonly DumpWorkload[], services: readonly DumpService[]): Row[] {
  return [
    ["NAMESPACE", "POD NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"],
    ...workloads.map((w) => {
      const ips = (w.workloadIps ?? []).join(",");
      return [
        w.namespace,
        w.name,
        ips === "" ? (w.hostname ?? "") : ips,
        w.node ?? "",
        waypointName(w.waypoint?.destination, services),
        w.protocol ?? "",
      ];
    }),
  ];
}

export function filterByNamespace<T extends { namespace: string }>(items: readonly T[], namespace?: string): T[] {
  return items.filter((i) => !namespace || same(i.namespace, namespace));
}

export function sortServices(services: DumpService[]): DumpService[] {
  return services.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.hostname, b.hostname));
}

/** A VIP is `network/ip`; the table shows the IP. */
const vipIp = (vip: string): string => (vip.includes("/") ? vip.slice(vip.indexOf("/") + 1) : vip);

export function serviceRows(
  services: readonly DumpService[],
  all: readonly DumpService[],
  workloads: readonly DumpWorkload[],
): Row[] {
  const byUid = new Map(workloads.map((w) => [w.uid, w]));
  return [
    ["NAMESPACE", "SERVICE NAME", "SERVICE VIP", "WAYPOINT", "ENDPOINTS"],
    ...services.map((s) => {
      const endpoints = Object.values(s.endpoints ?? {});
      const healthy = endpoints.filter((e) => byUid.get(e.workloadUid)?.status === "Healthy").length;
      return [
        s.namespace,
        s.name,
        (s.vips ?? []).map(vipIp).join(","),
        waypointName(s.waypoint?.destination, all),
        `${healthy}/${endpoints.length}`,
      ];
    }),
  ];
}

export function sortByNamespaceName<T extends { namespace: string; name: string }>(items: T[]): T[] {
  return items.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
}

export function policyRows(
  policies: ReadonlyArray<{ namespace: string; name: string; action: string; scope: string }>,
): Row[] {
  return [
    ["NAMESPACE", "POLICY NAME", "ACTION", "SCOPE"],
    ...policies.map((p) => [p.namespace, p.name, p.action, p.scope]),
  ];
}

/** Serials as lowercase hex without leading zeros (istioctl prints them with %x). */
function serialHex(serial: string | undefined): string {
  if (!serial) return "NA";
  // Istio's ztunnel writes decimal digits; Ambit's dump the hex X509Certificate gives (it has letters, except
  // with odds of about 1 in 3 million for a 16-byte serial, then it is read as decimal).
  const hex = serial.replace(/:/g, "");
  if (!/^[0-9a-fA-F]+$/.test(hex)) return serial;
  return (/^[0-9]+$/.test(hex) ? BigInt(hex) : BigInt(`0x${hex}`)).toString(16);
}

/** RFC 3339 to the second, as ztunnel prints it. */
function rfc3339(value: string | undefined): string {
  if (!value) return "NA";
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function validNow(c: DumpCert, now: number): boolean {
  const from = Date.parse(c.validFrom ?? "");
  const to = Date.parse(c.expirationTime ?? "");
  return !Number.isNaN(from) && !Number.isNaN(to) && now > from && now < to;
}

export function certificateRows(certificates: readonly DumpCertificate[], now: number): Row[] {
  const rows: Row[] = [
    ["CERTIFICATE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"],
  ];
  for (const c of certificates) {
    const state = c.state.includes("Unavailable") ? "Unavailable" : c.state;
    const chain = c.certChain ?? [];
    const roots = c.rootCerts ?? [];
    if (chain.length === 0) {
      rows.push([c.identity, "NA", state, "false", "NA", "NA", "NA"]);
      continue;
    }
    // Without a separate rootCerts list the chain ends with the root (Ambit's dump and older ztunnels).
    const legacy = roots.length === 0;
    const row = (x: DumpCert, type: string): Row => [
      c.identity,
      type,
      state,
      String(validNow(x, now)),
      serialHex(x.serialNumber),
      rfc3339(x.expirationTime),
      rfc3339(x.validFrom),
    ];
    chain.forEach((x, i) => {
      rows.push(row(x, i === 0 ? "Leaf" : legacy && i === chain.length - 1 ? "Root" : "Intermediate"));
    });
    for (const x of roots) rows.push(row(x, "Root"));
  }
  return rows;
}

export interface ConnectionFilter {
  namespace?: string;
  direction?: "inbound" | "outbound";
  /** Show IPs, not the names of the services and workloads behind them. */
  raw?: boolean;
}

export interface WorkloadConnections {
  name: string;
  namespace: string;
  inbound: DumpConnection[];
  outbound: DumpConnection[];
}

/** Each pod's connections with its name: Istio's dump carries `info`; Ambit's is keyed by uid, resolved here. */
export function workloadConnections(
  states: ReadonlyArray<Record<string, DumpWorkloadState>>,
  workloads: readonly DumpWorkload[],
): WorkloadConnections[] {
  const byUid = new Map(workloads.map((w) => [w.uid, w]));
  const out: WorkloadConnections[] = [];
  for (const state of states) {
    for (const [uid, s] of Object.entries(state)) {
      const w = s.info ?? byUid.get(uid) ?? { name: uid, namespace: "" };
      out.push({
        name: w.name,
        namespace: w.namespace,
        inbound: s.connections?.inbound ?? [],
        outbound: s.connections?.outbound ?? [],
      });
    }
  }
  return sortByNamespaceName(out);
}

function splitHostPort(addr: string): [string, string] | null {
  const i = addr.lastIndexOf(":");
  if (i < 0) return null;
  return [addr.slice(0, i).replace(/^\[(.*)\]$/, "$1"), addr.slice(i + 1)];
}

export function connectionRows(
  connections: readonly WorkloadConnections[],
  workloads: readonly DumpWorkload[],
  services: readonly DumpService[],
  f: ConnectionFilter,
): Row[] {
  const names = new Map<string, string>();
  for (const s of services) names.set(s.vips?.[0] ? vipIp(s.vips[0]) : "None", s.hostname);
  // Services win over workloads for the same IP, as in istioctl.
  for (const w of workloads) {
    const ip = w.workloadIps?.[0] ?? "None";
    if (!names.has(ip)) names.set(ip, `${w.name}.${w.namespace}`);
  }
  const lookup = (addr: string): string => {
    if (f.raw) return addr;
    const hp = splitHostPort(addr);
    const name = hp ? names.get(hp[0]) : undefined;
    return hp && name ? `${name}:${hp[1]}` : addr;
  };
  const rows: Row[] = [["WORKLOAD", "DIRECTION", "LOCAL", "REMOTE", "REMOTE TARGET", "PROTOCOL"]];
  for (const wc of connections) {
    if (f.namespace && wc.namespace !== f.namespace) continue;
    const name = `${wc.name}.${wc.namespace}`;
    if (f.direction !== "outbound") {
      for (const c of wc.inbound) {
        rows.push([name, "Inbound", lookup(c.actualDst), lookup(c.src), c.originalDst, c.protocol ?? ""]);
      }
    }
    if (f.direction !== "inbound") {
      for (const c of wc.outbound) {
        rows.push([name, "Outbound", lookup(c.src), lookup(c.actualDst), lookup(c.originalDst), c.protocol ?? ""]);
      }
    }
  }
  return rows;
}
