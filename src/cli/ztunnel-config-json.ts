// `ztunnel-config -o json|yaml`: the dump's objects in the field names istioctl prints (user-needs.md §2.2, Istio's
// `api.go`). Workloads and services already use them; policies and connection states are reshaped here.

import type { DumpPolicy, DumpWorkload, DumpWorkloadState } from "./ztunnel-config-dump.js";
import { cmp } from "./ztunnel-config-tables.js";

type Json = Record<string, unknown>;

const STRING_MATCH_FIELDS = ["namespaces", "notNamespaces", "principals", "notPrincipals"];
const ADDRESS_FIELDS = ["sourceIps", "notSourceIps", "destinationIps", "notDestinationIps"];

/** `{exact: "x"}` → `{Exact: "x"}`, as ztunnel serialises its string matches. */
function stringMatch(m: Json): Json {
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), k === "presence" ? {} : v]),
  );
}

function match(m: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(m)) {
    if (!Array.isArray(v) || v.length === 0) continue;
    if (STRING_MATCH_FIELDS.includes(k)) out[k] = v.map((x) => stringMatch(x as Json));
    else if (ADDRESS_FIELDS.includes(k)) out[k] = v.map((x) => `${(x as Json).address}/${(x as Json).length}`);
    else out[k] = v;
  }
  return out;
}

interface Group {
  rules?: Array<{ matches?: Json[] }>;
}

/** Ambit's `groups[].rules[].matches[]` becomes Istio's `rules[][][]`; an Istio dump's `rules` pass through. */
export function policyJson(p: DumpPolicy): Json {
  const { groups, ...rest } = p;
  if (!Array.isArray(groups)) return rest;
  const { dryRun, ...base } = rest;
  return {
    ...base,
    rules: (groups as Group[]).map((g) => (g.rules ?? []).map((c) => (c.matches ?? []).map(match))),
    ...(dryRun === true ? { dryRun } : {}),
  };
}

/** Istio's `workloadState` entries carry `info` (who the pod is); Ambit's are keyed by uid and get it here. */
export function connectionsJson(
  states: ReadonlyArray<Record<string, DumpWorkloadState>>,
  workloads: readonly DumpWorkload[],
  namespace: string | undefined,
): Json[] {
  const byUid = new Map(workloads.map((w) => [w.uid, w]));
  const out: Array<DumpWorkloadState & { info: NonNullable<DumpWorkloadState["info"]> }> = [];
  for (const state of states) {
    for (const [uid, s] of Object.entries(state)) {
      const w = byUid.get(uid);
      const info = s.info ?? {
        name: w?.name ?? uid,
        namespace: w?.namespace ?? "",
        trustDomain: w?.trustDomain ?? "",
        serviceAccount: w?.serviceAccount ?? "",
      };
      if (namespace && info.namespace !== namespace) continue;
      out.push({ ...s, info });
    }
  }
  out.sort((a, b) => cmp(a.info.namespace, b.info.namespace) || cmp(a.info.name, b.info.name));
  return out as unknown as Json[];
}
