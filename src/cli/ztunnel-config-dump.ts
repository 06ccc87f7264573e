// A ztunnel `/config_dump` as `ambit ztunnel-config` reads it: Ambit's own dump (src/dataplane/ztunnel/config-dump.ts)
// or a saved one from Istio's ztunnel. Only the fields the tables need are typed; JSON output passes the rest on.

import { AmbitError } from "../errors.js";

export interface DumpGateway {
  destination: string;
}

export interface DumpWorkload {
  uid: string;
  workloadIps?: string[];
  waypoint?: DumpGateway;
  protocol?: string;
  name: string;
  namespace: string;
  serviceAccount?: string;
  trustDomain?: string;
  node?: string;
  status?: string;
  hostname?: string;
  [field: string]: unknown;
}

export interface DumpEndpoint {
  workloadUid: string;
  [field: string]: unknown;
}

export interface DumpService {
  name: string;
  namespace: string;
  hostname: string;
  vips?: string[];
  waypoint?: DumpGateway;
  endpoints?: Record<string, DumpEndpoint>;
  [field: string]: unknown;
}

export interface DumpPolicy {
  name: string;
  namespace: string;
  scope: string;
  action: string;
  [field: string]: unknown;
}

export interface DumpCert {
  serialNumber?: string;
  validFrom?: string;
  expirationTime?: string;
  [field: string]: unknown;
}

export interface DumpCertificate {
  identity: string;
  state: string;
  certChain?: DumpCert[];
  rootCerts?: DumpCert[];
  [field: string]: unknown;
}

export interface DumpConnection {
  src: string;
  originalDst: string;
  actualDst: string;
  protocol?: string;
}

export interface DumpWorkloadState {
  state?: string;
  connections?: { inbound?: DumpConnection[]; outbound?: DumpConnection[] };
  info?: { name: string; namespace: string; serviceAccount?: string; trustDomain?: string };
}

export interface ConfigDump {
  workloads: DumpWorkload[];
  services: DumpService[];
  policies: DumpPolicy[];
  certificates: DumpCertificate[];
  /** Keyed by workload uid. */
  workloadState: Record<string, DumpWorkloadState>;
}

/** One node's dump (`node` is empty for a file given with -f). */
export interface NodeDump {
  node: string;
  dump: ConfigDump;
}

/** Istio's ztunnel has written these sections both as lists and as maps keyed by id; accept either. */
function listOrMap<T>(value: unknown, section: string, source: string): T[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value as T[];
  if (typeof value === "object") return Object.values(value) as T[];
  throw new AmbitError("AMBIT_CLI_UNREADABLE", `${source}: "${section}" is neither a list nor a map`);
}

export function parseConfigDump(text: string, source: string): ConfigDump {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new AmbitError("AMBIT_CLI_UNREADABLE", `${source} is not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !("workloads" in raw || "services" in raw)) {
    throw new AmbitError("AMBIT_CLI_UNREADABLE", `${source} is not a ztunnel config dump (no workloads or services)`);
  }
  const state = raw.workloadState ?? raw.workloadstate ?? {};
  return {
    workloads: listOrMap<DumpWorkload>(raw.workloads, "workloads", source),
    services: listOrMap<DumpService>(raw.services, "services", source),
    policies: listOrMap<DumpPolicy>(raw.policies, "policies", source),
    certificates: listOrMap<DumpCertificate>(raw.certificates, "certificates", source),
    workloadState: typeof state === "object" && state !== null ? (state as Record<string, DumpWorkloadState>) : {},
  };
}

function unique<T>(lists: ReadonlyArray<ReadonlyArray<T>>, key: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const list of lists) for (const t of list) if (!seen.has(key(t))) seen.set(key(t), t);
  return [...seen.values()];
}

/**
 * Workloads, services and policies are mesh-wide (every ztunnel gets the same), so several nodes' dumps merge into
 * one view; a node that has not caught up yet only adds what it knows. Certificates and connections stay per node.
 */
export function mergeMeshWide(dumps: ReadonlyArray<NodeDump>): Pick<ConfigDump, "workloads" | "services" | "policies"> {
  return {
    workloads: unique(
      dumps.map((d) => d.dump.workloads),
      (w) => w.uid,
    ),
    services: unique(
      dumps.map((d) => d.dump.services),
      (s) => `${s.namespace}/${s.hostname}`,
    ),
    policies: unique(
      dumps.map((d) => d.dump.policies),
      (p) => `${p.namespace}/${p.name}`,
    ),
  };
}
