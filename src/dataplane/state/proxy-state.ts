// The proxy's view of the mesh (ztunnel's `state/`): workloads, services and L4 policies as the control plane sent
// them, with the indexes the proxies ask through. Lookups only: no sockets, no timers. A disconnected control plane
// changes nothing here, so the last good state keeps serving (data-plane.md §(b) 10).

import { EventEmitter } from "node:events";
import { STATIC_STRICT_POLICY } from "../../policy/peer.js";
import { ZtunnelAuthz } from "../../policy/ztunnel-authz.js";
import {
  type GatewayRef,
  type L4Policy,
  policyKey,
  type ServiceView,
  serviceKey,
  type WorkloadView,
  workloadIdentity,
} from "./types.js";

export interface StateDelta {
  workloads?: { upsert?: readonly WorkloadView[]; remove?: readonly string[] };
  services?: { upsert?: readonly ServiceView[]; remove?: readonly string[] };
  policies?: { upsert?: readonly L4Policy[]; remove?: readonly string[] };
}

/** What an update touched: workload uids, service keys, and whether any policy changed. */
export interface StateChange {
  workloads: string[];
  services: string[];
  policies: boolean;
}

export interface ProxyStateEvents {
  change: [StateChange];
  synced: [];
}

/** A reachable HBONE endpoint of a gateway (waypoint): where to dial and which identities it may present. */
export interface GatewayEndpoint {
  address: string;
  port: number;
  identities: string[];
  workload?: WorkloadView;
  service?: ServiceView;
}

export interface ProxyStateOptions {
  /** Where GLOBAL policies and the static STRICT policy live. Default istio-system. */
  rootNamespace?: string;
}

const ipKey = (network: string, ip: string) => `${network}/${ip}`;

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  set?.delete(value);
  if (set?.size === 0) index.delete(key);
}

export class ProxyState extends EventEmitter<ProxyStateEvents> {
  readonly rootNamespace: string;
  readonly #workloads = new Map<string, WorkloadView>();
  readonly #services = new Map<string, ServiceView>();
  readonly #policies = new Map<string, L4Policy>();
  /** `network/ip` → uids claiming it, in arrival order; the latest claimant answers lookups. */
  readonly #workloadByIp = new Map<string, Set<string>>();
  readonly #servicesByVip = new Map<string, Set<string>>();
  /** Service key → uids of the workloads whose `services` map names it. */
  readonly #endpoints = new Map<string, Set<string>>();
  #authz: ZtunnelAuthz | undefined;
  #synced = false;

  constructor(opts: ProxyStateOptions = {}) {
    super();
    this.rootNamespace = opts.rootNamespace ?? "istio-system";
  }

  /** True once the control plane answered every type at least once (or a test said so). */
  get synced(): boolean {
    return this.#synced;
  }

  markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.emit("synced");
  }

  update(delta: StateDelta): StateChange {
    const change: StateChange = { workloads: [], services: [], policies: false };
    for (const uid of delta.workloads?.remove ?? []) {
      if (this.#unindexWorkload(uid)) change.workloads.push(uid);
    }
    for (const w of delta.workloads?.upsert ?? []) {
      this.#unindexWorkload(w.uid);
      this.#workloads.set(w.uid, w);
      for (const ip of w.addresses) addTo(this.#workloadByIp, ipKey(w.network, ip), w.uid);
      for (const key of Object.keys(w.services)) {
        addTo(this.#endpoints, key, w.uid);
      }
      change.workloads.push(w.uid);
    }
    for (const key of delta.services?.remove ?? []) {
      if (this.#unindexService(key)) change.services.push(key);
    }
    for (const s of delta.services?.upsert ?? []) {
      const key = serviceKey(s);
      this.#unindexService(key);
      this.#services.set(key, s);
      for (const a of s.addresses) {
        addTo(this.#servicesByVip, ipKey(a.network, a.address), key);
      }
      change.services.push(key);
    }
    for (const key of delta.policies?.remove ?? []) {
      if (this.#policies.delete(key)) change.policies = true;
    }
    for (const p of delta.policies?.upsert ?? []) {
      this.#policies.set(policyKey(p), p);
      change.policies = true;
    }
    if (change.policies) this.#authz = undefined;
    if (change.workloads.length > 0 || change.services.length > 0 || change.policies) this.emit("change", change);
    return change;
  }

  workload(uid: string): WorkloadView | undefined {
    return this.#workloads.get(uid);
  }

  workloadByIp(ip: string, network = ""): WorkloadView | undefined {
    const uids = this.#workloadByIp.get(ipKey(network, ip));
    if (!uids) return undefined;
    let last: string | undefined;
    for (const u of uids) last = u;
    return last === undefined ? undefined : this.#workloads.get(last);
  }

  /** The Service with this VIP; when several share it, the one in `preferNamespace` (the client's) wins. */
  serviceByVip(ip: string, network = "", preferNamespace?: string): ServiceView | undefined {
    const keys = this.#servicesByVip.get(ipKey(network, ip));
    if (!keys) return undefined;
    let first: ServiceView | undefined;
    for (const k of keys) {
      const s = this.#services.get(k);
      if (!s) continue;
      if (s.namespace === preferNamespace) return s;
      first ??= s;
    }
    return first;
  }

  serviceByHost(namespace: string, hostname: string): ServiceView | undefined {
    return this.#services.get(`${namespace}/${hostname}`);
  }

  service(key: string): ServiceView | undefined {
    return this.#services.get(key);
  }

  /** Workloads whose `services` map names this service, in a stable order (by uid). */
  endpoints(key: string): WorkloadView[] {
    const uids = [...(this.#endpoints.get(key) ?? [])].sort();
    return uids.flatMap((u) => {
      const w = this.#workloads.get(u);
      return w ? [w] : [];
    });
  }

  /**
   * Every HBONE endpoint of a waypoint: a hostname resolves to that Service's healthy endpoints; an IP stands for
   * itself. Expected identities = the waypoint service's SANs plus the waypoint workload's own identity (§1.2).
   */
  gatewayEndpoints(ref: GatewayRef): GatewayEndpoint[] {
    const port = ref.hboneMtlsPort || 15008;
    if ("address" in ref) {
      const w = this.workloadByIp(ref.address.address, ref.address.network);
      const identities = w ? [workloadIdentity(w)] : [];
      return [{ address: ref.address.address, port, identities, ...(w ? { workload: w } : {}) }];
    }
    const svc = this.serviceByHost(ref.hostname.namespace, ref.hostname.hostname);
    if (!svc) return [];
    const out: GatewayEndpoint[] = [];
    for (const w of this.endpoints(serviceKey(svc))) {
      const ip = w.addresses[0];
      if (ip === undefined || w.status !== "HEALTHY") continue;
      out.push({
        address: ip,
        port,
        identities: [...svc.subjectAltNames, workloadIdentity(w)],
        workload: w,
        service: svc,
      });
    }
    return out;
  }

  /** The policies ztunnel applies to a destination workload: GLOBAL, its namespace's, and those it names. */
  policiesFor(w: WorkloadView): L4Policy[] {
    const out: L4Policy[] = [];
    for (const p of this.#policies.values()) {
      if (p.scope === "GLOBAL" || (p.scope === "NAMESPACE" && p.namespace === w.namespace)) out.push(p);
    }
    for (const key of w.authorizationPolicies) {
      const p = this.#policies.get(key);
      if (p && p.scope === "WORKLOAD_SELECTOR") out.push(p);
    }
    return out;
  }

  /** The compiled L4 engine over every policy held; rebuilt lazily after a policy change. */
  authz(): ZtunnelAuthz {
    this.#authz ??= ZtunnelAuthz.build([...this.#policies.values()]);
    return this.#authz;
  }

  /** STRICT when istiod attached the static strict DENY (effective PeerAuthentication STRICT, policy.md §3). */
  peerAuthentication(w: WorkloadView): "STRICT" | "PERMISSIVE" {
    return w.authorizationPolicies.includes(`${this.rootNamespace}/${STATIC_STRICT_POLICY}`) ? "STRICT" : "PERMISSIVE";
  }

  workloads(): WorkloadView[] {
    return [...this.#workloads.values()];
  }

  services(): ServiceView[] {
    return [...this.#services.values()];
  }

  policies(): L4Policy[] {
    return [...this.#policies.values()];
  }

  #unindexWorkload(uid: string): boolean {
    const old = this.#workloads.get(uid);
    if (!old) return false;
    this.#workloads.delete(uid);
    for (const ip of old.addresses) removeFrom(this.#workloadByIp, ipKey(old.network, ip), uid);
    for (const key of Object.keys(old.services)) removeFrom(this.#endpoints, key, uid);
    return true;
  }

  #unindexService(key: string): boolean {
    const old = this.#services.get(key);
    if (!old) return false;
    this.#services.delete(key);
    for (const a of old.addresses) removeFrom(this.#servicesByVip, ipKey(a.network, a.address), key);
    return true;
  }
}
