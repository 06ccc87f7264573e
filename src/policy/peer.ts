// PeerAuthentication in ambient (policy.md §3, control-plane.md §8.6): HBONE is always mTLS, so the only effect is
// whether plaintext is refused. istiod expresses that as ztunnel DENY policies, which this module synthesizes.

import type { MutualTLSMode, PeerAuthentication } from "../api/resources.js";
import type { L4Group, L4Policy } from "./ztunnel-policy.js";

export const STATIC_STRICT_POLICY = "istio_converted_static_strict";

export interface PeerWorkload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export type EffectiveMtls = "STRICT" | "PERMISSIVE";

/** The mesh, namespace and workload PeerAuthentications that govern a workload; oldest wins inside each level. */
export interface PeerLevels {
  mesh: PeerAuthentication | undefined;
  namespace: PeerAuthentication | undefined;
  workload: PeerAuthentication | undefined;
}

function older(a: PeerAuthentication | undefined, b: PeerAuthentication): PeerAuthentication {
  if (!a) return b;
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  // Equal (or missing) timestamps keep the earlier one in input order.
  return tb < ta ? b : a;
}

function hasSelector(pa: PeerAuthentication): boolean {
  return Object.keys(pa.spec?.selector?.matchLabels ?? {}).length > 0;
}

function selects(pa: PeerAuthentication, w: PeerWorkload): boolean {
  const labels = pa.spec?.selector?.matchLabels ?? {};
  return Object.entries(labels).every(([k, v]) => w.labels[k] === v);
}

export function peerLevels(pas: readonly PeerAuthentication[], w: PeerWorkload, rootNamespace: string): PeerLevels {
  let mesh: PeerAuthentication | undefined;
  let namespace: PeerAuthentication | undefined;
  let workload: PeerAuthentication | undefined;
  for (const pa of pas) {
    const ns = pa.metadata.namespace ?? "default";
    if (!hasSelector(pa)) {
      if (ns === rootNamespace) mesh = older(mesh, pa);
      else if (ns === w.namespace) namespace = older(namespace, pa);
    } else if (ns !== rootNamespace && ns === w.namespace && selects(pa, w)) {
      // Root-namespace PeerAuthentications with a selector are ignored in ambient.
      workload = older(workload, pa);
    }
  }
  return { mesh, namespace, workload };
}

function modeOf(m: { mode?: MutualTLSMode } | undefined): MutualTLSMode {
  return m?.mode ?? "UNSET";
}

/** Effective mode for one port: UNSET inherits, DISABLE behaves as PERMISSIVE (plaintext accepted). */
export function effectiveMtls(levels: PeerLevels, port: number): EffectiveMtls {
  let mode: MutualTLSMode = modeOf(levels.mesh?.spec?.mtls);
  for (const m of [modeOf(levels.namespace?.spec?.mtls), modeOf(levels.workload?.spec?.mtls)]) {
    if (m !== "UNSET") mode = m;
  }
  const portMode = modeOf(levels.workload?.spec?.portLevelMtls?.[String(port)]);
  if (portMode !== "UNSET") mode = portMode;
  return mode === "STRICT" ? "STRICT" : "PERMISSIVE";
}

/** The static DENY istiod attaches for an effective STRICT mode: deny when the peer has no principal. */
export function staticStrictPolicy(rootNamespace: string): L4Policy {
  return {
    name: STATIC_STRICT_POLICY,
    namespace: rootNamespace,
    scope: "WORKLOAD_SELECTOR",
    action: "DENY",
    groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: true }] }] }] }],
    dryRun: false,
  };
}

export function convertedPeerPolicyName(pa: PeerAuthentication): string {
  return `converted_peer_authentication_${pa.metadata.name}`;
}

const isStrict = (m: MutualTLSMode) => m === "STRICT";
const isLoose = (m: MutualTLSMode) => m === "PERMISSIVE" || m === "DISABLE";

/** The per-workload DENY for port-level exceptions, or null when the workload needs none. */
export function convertPeerAuthentication(levels: PeerLevels, rootNamespace: string): L4Policy | null {
  const pa = levels.workload;
  const ports = pa?.spec?.portLevelMtls;
  if (!pa || !ports || Object.keys(ports).length === 0 || pa.metadata.namespace === rootNamespace) return null;
  const mode = modeOf(pa.spec?.mtls);
  const ns = levels.namespace ? modeOf(levels.namespace.spec?.mtls) : undefined;
  const root = levels.mesh ? modeOf(levels.mesh.spec?.mtls) : undefined;
  // These conditions follow istiod's port-level conversion as written, quirks included.
  const strictPortCovered =
    isStrict(mode) ||
    (mode === "UNSET" && ns !== undefined && isStrict(ns)) ||
    ((ns === undefined || ns === "UNSET") && root !== undefined && isStrict(root));
  const loosePortIgnored =
    isLoose(mode) ||
    (mode === "UNSET" &&
      ((ns !== undefined && !isStrict(ns)) ||
        (ns === undefined && root !== undefined && !isStrict(root)) ||
        (ns === undefined && root === undefined)));
  const groups: L4Group[] = [];
  const rules: L4Group["rules"] = [];
  if (isStrict(mode)) rules.push({ matches: [{ notPrincipals: [{ presence: true }] }] });
  let foundLoosePort = false;
  for (const key of Object.keys(ports).sort((a, b) => Number(a) - Number(b))) {
    const port = Number(key);
    const portMode = modeOf(ports[key]);
    if (isStrict(portMode)) {
      if (strictPortCovered) continue;
      groups.push({ rules: [{ matches: [{ notPrincipals: [{ presence: true }], destinationPorts: [port] }] }] });
    } else if (isLoose(portMode)) {
      if (loosePortIgnored) continue;
      foundLoosePort = true;
      // Exempts this port: the group only fires for connections to other ports.
      rules.push({ matches: [{ notDestinationPorts: [port] }] });
    }
  }
  if (isStrict(mode) && !foundLoosePort) return null;
  if (rules.length === 0 && groups.length === 0) return null;
  const mergeStrict =
    (root !== undefined && isStrict(root) && (ns === undefined || ns === "UNSET" || isStrict(ns))) ||
    (ns !== undefined && isStrict(ns));
  if (mergeStrict && foundLoosePort) rules.push({ matches: [{ notPrincipals: [{ presence: true }] }] });
  if (rules.length > 0) groups.push({ rules });
  return {
    name: convertedPeerPolicyName(pa),
    namespace: pa.metadata.namespace ?? "default",
    scope: "WORKLOAD_SELECTOR",
    action: "DENY",
    groups,
    dryRun: false,
  };
}

export interface PeerPolicies {
  /** `<ns>/<name>` keys to list on the workload (Workload.authorization_policies). */
  keys: string[];
  /** The L4 policies those keys refer to. */
  policies: L4Policy[];
}

/** What istiod attaches to one workload for its PeerAuthentications. */
export function peerPoliciesFor(
  pas: readonly PeerAuthentication[],
  w: PeerWorkload,
  rootNamespace: string,
): PeerPolicies {
  const levels = peerLevels(pas, w, rootNamespace);
  let strict = isStrict(modeOf(levels.mesh?.spec?.mtls));
  const nsMode = modeOf(levels.namespace?.spec?.mtls);
  if (nsMode !== "UNSET") strict = isStrict(nsMode);
  const wl = levels.workload;
  let useConverted = false;
  if (wl) {
    const mode = modeOf(wl.spec?.mtls);
    if (isStrict(mode)) strict = true;
    if (isLoose(mode)) strict = false;
    const ports = Object.values(wl.spec?.portLevelMtls ?? {}).map((m) => modeOf(m));
    if (ports.length > 0) {
      // A converted port-level policy carries the STRICT default itself, so the static one is then not attached.
      if (isStrict(mode)) {
        useConverted = ports.some(isLoose);
        if (useConverted) strict = false;
      } else if (isLoose(mode)) {
        useConverted = ports.some(isStrict);
      } else if (strict) {
        useConverted = ports.some((m) => m === "PERMISSIVE");
        if (useConverted) strict = false;
      } else {
        useConverted = ports.some(isStrict);
      }
    }
  }
  const converted = useConverted ? convertPeerAuthentication(levels, rootNamespace) : null;
  const out: PeerPolicies = { keys: [], policies: [] };
  if (strict) {
    out.keys.push(`${rootNamespace}/${STATIC_STRICT_POLICY}`);
    out.policies.push(staticStrictPolicy(rootNamespace));
  }
  if (converted) {
    out.keys.push(`${converted.namespace}/${converted.name}`);
    out.policies.push(converted);
  }
  out.keys.sort();
  return out;
}
