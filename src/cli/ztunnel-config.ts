// `ambit ztunnel-config` (`zc`): what the running ztunnels hold, in istioctl ztunnel-config's tables and JSON
// (user-needs.md §2.2). Reads every node's `/config_dump` (or one saved dump with -f); workloads, services and
// policies are mesh-wide and merged, certificates and connections are shown per node.

import { readFileSync } from "node:fs";
import { AmbitError } from "../errors.js";
import { parseOutputFormat, render } from "./format.js";
import { fetchConfigDump, type RunningMesh, type RunningNode, readRunningMesh } from "./running-mesh.js";
import { formatTable } from "./table.js";
import { mergeMeshWide, type NodeDump, parseConfigDump } from "./ztunnel-config-dump.js";
import { connectionsJson, policyJson } from "./ztunnel-config-json.js";
import {
  certificateRows,
  connectionRows,
  filterByNamespace,
  filterWorkloads,
  policyRows,
  serviceRows,
  sortByNamespaceName,
  sortServices,
  sortWorkloads,
  workloadConnections,
  workloadRows,
} from "./ztunnel-config-tables.js";

export type ZtunnelConfigKind = "workloads" | "services" | "policies" | "certificates" | "connections" | "all";

const KINDS: Record<string, ZtunnelConfigKind> = {
  workloads: "workloads",
  workload: "workloads",
  w: "workloads",
  services: "services",
  service: "services",
  s: "services",
  svc: "services",
  policies: "policies",
  policy: "policies",
  p: "policies",
  pol: "policies",
  certificates: "certificates",
  certificate: "certificates",
  certs: "certificates",
  cert: "certificates",
  secret: "certificates",
  connections: "connections",
  cons: "connections",
  all: "all",
};

export function parseKind(kind: string): ZtunnelConfigKind {
  const k = KINDS[kind];
  if (!k) {
    throw new AmbitError(
      "AMBIT_CLI_USAGE",
      `unknown kind "${kind}": use workloads, services, policies, certificates, connections or all`,
    );
  }
  return k;
}

export interface ZtunnelConfigFlags {
  output?: string;
  node?: string;
  workloadNamespace?: string;
  workloadNode?: string;
  serviceNamespace?: string;
  policyNamespace?: string;
  direction?: string;
  raw?: boolean;
  address?: string;
  prefix?: string;
  file?: string;
  withHeaders?: boolean;
}

/** A ztunnel target: a node name, or a pod `name[.namespace]` whose node's ztunnel is meant (istio/istio#59497). */
function selectNodes(mesh: RunningMesh, target: string | undefined, node: string | undefined): RunningNode[] {
  const names = mesh.nodes.map((n) => n.name);
  let wanted = node;
  if (target !== undefined) {
    const byPod = mesh.pods.filter((p) => p.name === target || `${p.name}.${p.namespace}` === target);
    const fromTarget = names.includes(target) ? target : byPod.length === 1 ? byPod[0]?.node : undefined;
    if (fromTarget === undefined) {
      const why = byPod.length > 1 ? `pod name "${target}" is ambiguous: add .NAMESPACE` : `no node or pod "${target}"`;
      throw new AmbitError("AMBIT_CLI_NOT_FOUND", `${why} in the running mesh (nodes: ${names.join(", ")})`);
    }
    if (node !== undefined && node !== fromTarget) {
      throw new AmbitError("AMBIT_CLI_USAGE", `"${target}" is on node ${fromTarget}, not on --node ${node}`);
    }
    wanted = fromTarget;
  }
  if (wanted === undefined) return mesh.nodes;
  const found = mesh.nodes.filter((n) => n.name === wanted);
  if (found.length === 0) {
    throw new AmbitError("AMBIT_CLI_NOT_FOUND", `no node "${wanted}" in the running mesh (nodes: ${names.join(", ")})`);
  }
  return found;
}

interface Loaded {
  dumps: NodeDump[];
  /** The dumps' text as served, for `all -o json`. */
  texts: Array<{ node: string; text: string }>;
}

async function load(target: string | undefined, flags: ZtunnelConfigFlags): Promise<Loaded> {
  if (flags.file !== undefined) {
    if (target !== undefined) {
      throw new AmbitError("AMBIT_CLI_USAGE", "give either a node/pod or -f FILE, not both");
    }
    let text: string;
    try {
      text = readFileSync(flags.file === "-" ? 0 : flags.file, "utf8");
    } catch (e) {
      throw new AmbitError("AMBIT_CLI_UNREADABLE", `cannot read ${flags.file} (${(e as Error).message})`);
    }
    return { dumps: [{ node: "", dump: parseConfigDump(text, flags.file) }], texts: [{ node: "", text }] };
  }
  const mesh = readRunningMesh(flags.prefix);
  const nodes = selectNodes(mesh, target, flags.node);
  const texts = await Promise.all(nodes.map((n) => fetchConfigDump(n)));
  return {
    dumps: texts.map((t, i) => ({
      node: nodes[i]?.name ?? "",
      dump: parseConfigDump(t, `config_dump of node ${nodes[i]?.name}`),
    })),
    texts: texts.map((text, i) => ({ node: nodes[i]?.name ?? "", text })),
  };
}

function direction(value: string | undefined): "inbound" | "outbound" | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.toLowerCase();
  if (v !== "inbound" && v !== "outbound") {
    throw new AmbitError("AMBIT_CLI_USAGE", `unknown direction "${value}": use inbound or outbound`);
  }
  return v;
}

const SECTION_HEADERS: Record<Exclude<ZtunnelConfigKind, "all">, string> = {
  workloads: "------ WORKLOAD INFO ------",
  services: "------ SERVICE INFO ------",
  policies: "------ POLICY INFO ------",
  certificates: "------ SECRET INFO ------",
  connections: "------ CONNECTIONS INFO ------",
};

export async function runZtunnelConfig(
  kindArg: string,
  target: string | undefined,
  flags: ZtunnelConfigFlags,
  now: number = Date.now(),
): Promise<string> {
  const kind = parseKind(kindArg);
  const format = parseOutputFormat(flags.output);
  const dir = direction(flags.direction);
  const { dumps, texts } = await load(target, flags);
  const mesh = mergeMeshWide(dumps);
  const certificates = dumps.flatMap((d) => d.dump.certificates);
  const states = dumps.map((d) => d.dump.workloadState);

  const workloads = () =>
    sortWorkloads(
      filterWorkloads(mesh.workloads, {
        namespace: flags.workloadNamespace,
        address: flags.address,
        node: flags.workloadNode,
      }),
    );
  const services = () => sortServices(filterByNamespace(mesh.services, flags.serviceNamespace));
  const policies = () => sortByNamespaceName(filterByNamespace(mesh.policies, flags.policyNamespace));

  if (format !== "text") {
    const value = {
      workloads,
      services,
      policies: () => policies().map(policyJson),
      certificates: () => certificates,
      connections: () => connectionsJson(states, mesh.workloads, flags.workloadNamespace),
      // One dump prints as ztunnel served it; several are keyed by node.
      all: () => {
        const parsed = texts.map((t) => [t.node, JSON.parse(t.text) as unknown] as const);
        return parsed.length === 1 ? parsed[0]?.[1] : Object.fromEntries(parsed);
      },
    }[kind]();
    return render(value, format);
  }

  const tables: Record<Exclude<ZtunnelConfigKind, "all">, () => string> = {
    workloads: () => formatTable(workloadRows(workloads(), mesh.services)),
    services: () => formatTable(serviceRows(services(), mesh.services, mesh.workloads)),
    policies: () => formatTable(policyRows(policies())),
    // istioctl pads its certificate table by 5 where the other ztunnel tables use 1.
    certificates: () => formatTable(certificateRows(certificates, now), 5),
    connections: () =>
      formatTable(
        connectionRows(workloadConnections(states, mesh.workloads), mesh.workloads, mesh.services, {
          namespace: flags.workloadNamespace,
          direction: dir,
          raw: flags.raw === true,
        }),
      ),
  };
  if (kind !== "all") return tables[kind]();
  const order = ["workloads", "services", "policies", "certificates", "connections"] as const;
  return order.map((k) => `\n${flags.withHeaders ? `${SECTION_HEADERS[k]}\n\n` : ""}${tables[k]()}`).join("");
}
