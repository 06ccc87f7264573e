// The mesh model as the xDS server's ResourceSource (spec data-plane.md §4): Address (Workload | Service),
// Authorization and WaypointConfig resources, kept up to date from the ChangeSets the model returns. Each event
// recomputes only the resources it can reach, through reverse indexes kept here (service → its workloads, selector
// policy → its workloads, PeerAuthentication-derived policy → the workloads listing it, object → its waypoint); a
// recomputed resource whose content version did not move is not pushed. The whole mesh is walked once, at start.

import { create } from "@bufbuild/protobuf";
import { Labels } from "../api/labels.js";
import type { AuthorizationPolicy, HTTPRoute, PeerAuthentication, ServiceEntry } from "../api/resources.js";
import type { ChangeSet, MeshEvent, MeshModel } from "../mesh/model.js";
import type { ServiceState, Workload } from "../mesh/types.js";
import { peerPoliciesFor } from "../policy/peer.js";
import { type L4Policy, toZtunnelPolicy } from "../policy/ztunnel-policy.js";
import {
  type AddressContext,
  DEFAULT_CLUSTER_ID,
  serviceAddress,
  serviceToProto,
  workloadAddress,
  workloadToProto,
} from "../xds/convert/address.js";
import { l4PolicyToProto } from "../xds/convert/authorization.js";
import { WaypointConfigSchema } from "../xds/gen/ambit/waypoint/waypoint_pb.js";
import { addressResource, authorizationResource, contentVersion, waypointConfigResource } from "../xds/resources.js";
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  type ResourceListener,
  type ResourceSource,
  type VersionedResource,
  WAYPOINT_CONFIG_TYPE_URL,
} from "../xds/types.js";
import { namedPorts, policySelectorLabels, policySelects, serviceSelects } from "./selection.js";
import { buildWaypointConfig, routeParentServices } from "./waypoint-l7.js";

export interface MeshSourceOptions {
  /** Cluster id in workload uids and `cluster_id`. Default "Kubernetes" (istiod's). */
  clusterId?: string;
  /** Network of every address. Default "" (the default network). */
  network?: string;
  /** AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY: send dry-run policies to ztunnel. Default false. */
  enableDryRun?: boolean;
}

/** One change's output, per type: what to upsert and what to remove. */
class Batch {
  readonly upserts = new Map<string, Map<string, VersionedResource>>();
  readonly removes = new Map<string, Set<string>>();

  upsert(typeUrl: string, name: string, r: VersionedResource): void {
    this.removes.get(typeUrl)?.delete(name);
    const m = this.upserts.get(typeUrl) ?? new Map<string, VersionedResource>();
    this.upserts.set(typeUrl, m);
    m.set(name, r);
  }

  remove(typeUrl: string, name: string): void {
    this.upserts.get(typeUrl)?.delete(name);
    const s = this.removes.get(typeUrl) ?? new Set<string>();
    this.removes.set(typeUrl, s);
    s.add(name);
  }

  emit(listeners: Iterable<ResourceListener>): void {
    for (const typeUrl of [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_CONFIG_TYPE_URL]) {
      const up = this.upserts.get(typeUrl) ?? new Map<string, VersionedResource>();
      const rm = [...(this.removes.get(typeUrl) ?? [])];
      if (up.size === 0 && rm.length === 0) continue;
      for (const l of listeners) l(typeUrl, up, rm);
    }
  }
}

interface SelectorPolicy {
  policy: AuthorizationPolicy;
  labels: Record<string, string>;
}

const EMPTY: ReadonlySet<string> = new Set();

function splitKey(key: string): [string, string, string] {
  const first = key.indexOf("/");
  const second = key.indexOf("/", first + 1);
  return [key.slice(0, first), key.slice(first + 1, second), key.slice(second + 1)];
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const s = index.get(key) ?? new Set<string>();
  index.set(key, s);
  s.add(value);
}

export class MeshSource implements ResourceSource {
  readonly model: MeshModel;
  readonly #ctx: AddressContext;
  readonly #enableDryRun: boolean;
  readonly #tables = new Map<string, Map<string, VersionedResource>>([
    [ADDRESS_TYPE_URL, new Map()],
    [AUTHORIZATION_TYPE_URL, new Map()],
    [WAYPOINT_CONFIG_TYPE_URL, new Map()],
  ]);
  readonly #listeners = new Set<ResourceListener>();

  // workload key → the uid it was sent under; service key → the names (`ns/hostname`) it was sent under
  readonly #workloadUid = new Map<string, string>();
  readonly #serviceNames = new Map<string, string[]>();
  /** What the workloads' `services` maps depend on, per service: hostnames and ports. */
  readonly #servicePorts = new Map<string, string>();
  readonly #nsServices = new Map<string, Set<string>>();
  readonly #serviceMembers = new Map<string, Set<string>>();
  readonly #workloadServices = new Map<string, Set<string>>();
  // selector AuthorizationPolicies that are sent, by `ns/name`, and the workloads each selects
  readonly #selectorPolicies = new Map<string, SelectorPolicy>();
  readonly #nsSelectorPolicies = new Map<string, Set<string>>();
  readonly #policyMembers = new Map<string, Set<string>>();
  readonly #workloadPolicies = new Map<string, Set<string>>();
  readonly #userAuthz = new Set<string>();
  // PeerAuthentication-derived policies (istio_converted_static_strict and port-level conversions)
  readonly #peerRefs = new Map<string, Set<string>>();
  readonly #workloadPeer = new Map<string, string[]>();
  // which waypoint each object last reached, so a change also recomputes the waypoint it leaves
  readonly #serviceWaypoint = new Map<string, string>();
  readonly #workloadWaypoints = new Map<string, Set<string>>();
  readonly #policyWaypoints = new Map<string, Set<string>>();

  constructor(model: MeshModel, opts: MeshSourceOptions = {}) {
    this.model = model;
    this.#ctx = {
      clusterId: opts.clusterId ?? DEFAULT_CLUSTER_ID,
      network: opts.network ?? "",
      trustDomain: model.options.trustDomain,
    };
    this.#enableDryRun = opts.enableDryRun === true;
    // The one full walk: everything is "changed" once.
    this.update({
      workloads: new Set(model.workloads().map((w) => w.key)),
      services: new Set(model.services().map((s) => s.key)),
      waypoints: new Set(model.waypoints().map((w) => `${w.namespace}/${w.name}`)),
      policies: new Set(model.policies().map((p) => p.key)),
    });
  }

  snapshot(typeUrl: string): ReadonlyMap<string, VersionedResource> {
    return this.#tables.get(typeUrl) ?? new Map();
  }

  subscribe(listener: ResourceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Applies an event to the model and pushes what it changed. */
  apply(event: MeshEvent): ChangeSet {
    const routeWaypoints = new Set<string>();
    const isRoute = event.type === "upsert" ? event.object.kind === "HTTPRoute" : event.kind === "HTTPRoute";
    // HTTPRoutes are not part of the model's change sets: their parents' waypoints, before and after, are.
    if (isRoute) this.#routeWaypoints(event, routeWaypoints);
    const changes = this.model.apply(event);
    if (isRoute) this.#routeWaypoints(event, routeWaypoints);
    this.update(changes, routeWaypoints);
    return changes;
  }

  /** Pushes the resources a ChangeSet reaches; `waypoints` adds waypoints known to be affected. */
  update(changes: ChangeSet, waypoints: Iterable<string> = []): void {
    const batch = new Batch();
    const dirtyWorkloads = new Set(changes.workloads);
    const dirtyWaypoints = new Set([...changes.waypoints, ...waypoints]);
    for (const key of changes.services) this.#syncService(key, dirtyWorkloads, dirtyWaypoints, batch);
    for (const key of changes.policies) this.#syncPolicy(key, dirtyWorkloads, dirtyWaypoints, batch);
    for (const key of dirtyWorkloads) this.#syncWorkload(key, dirtyWaypoints, batch);
    for (const key of dirtyWaypoints) this.#syncWaypoint(key, batch);
    batch.emit(this.#listeners);
  }

  // ---- tables ----

  #put(typeUrl: string, name: string, r: VersionedResource, batch: Batch): void {
    const table = this.#tables.get(typeUrl)!;
    if (table.get(name)?.version === r.version) return;
    table.set(name, r);
    batch.upsert(typeUrl, name, r);
  }

  #drop(typeUrl: string, name: string, batch: Batch): void {
    if (this.#tables.get(typeUrl)!.delete(name)) batch.remove(typeUrl, name);
  }

  // ---- services ----

  #service(key: string): ServiceState | undefined {
    const [kind, ns, name] = splitKey(key);
    return this.model.service(kind as ServiceState["kind"], ns, name);
  }

  #syncService(key: string, dirtyWorkloads: Set<string>, dirtyWaypoints: Set<string>, batch: Batch): void {
    const s = this.#service(key);
    const [, ns] = splitKey(key);
    const names: string[] = [];
    if (s) {
      const object =
        s.kind === "ServiceEntry" ? this.model.object<ServiceEntry>("ServiceEntry", ns, s.name) : undefined;
      const sans = (object?.spec as { subjectAltNames?: string[] } | undefined)?.subjectAltNames;
      for (const host of s.hostnames) {
        const [name, r] = addressResource(
          serviceAddress(serviceToProto(s, { ...this.#ctx, subjectAltNames: sans }, host)),
        );
        names.push(name);
        this.#put(ADDRESS_TYPE_URL, name, r, batch);
      }
      addTo(this.#nsServices, ns, key);
    } else {
      this.#nsServices.get(ns)?.delete(key);
    }
    for (const old of this.#serviceNames.get(key) ?? [])
      if (!names.includes(old)) this.#drop(ADDRESS_TYPE_URL, old, batch);
    if (names.length > 0) this.#serviceNames.set(key, names);
    else this.#serviceNames.delete(key);

    // Membership: workloads that joined or left, or all of them when the ports their `services` map copies moved.
    const before = this.#serviceMembers.get(key) ?? EMPTY;
    const after = new Set(
      s
        ? this.model
            .workloadsInNamespace(ns)
            .filter((w) => serviceSelects(s, w))
            .map((w) => w.key)
        : [],
    );
    const ports = s ? JSON.stringify([s.hostnames, s.ports]) : "";
    const portsMoved = this.#servicePorts.get(key) !== ports;
    for (const w of before) if (portsMoved || !after.has(w)) dirtyWorkloads.add(w);
    for (const w of after) if (portsMoved || !before.has(w)) dirtyWorkloads.add(w);
    if (s) this.#servicePorts.set(key, ports);
    else this.#servicePorts.delete(key);

    const oldWp = this.#serviceWaypoint.get(key);
    if (oldWp !== undefined) dirtyWaypoints.add(oldWp);
    const wp = s?.binding.waypoint;
    if (wp) {
      const wpKey = `${wp.namespace}/${wp.name}`;
      dirtyWaypoints.add(wpKey);
      this.#serviceWaypoint.set(key, wpKey);
    } else {
      this.#serviceWaypoint.delete(key);
    }
  }

  // ---- policies ----

  #syncPolicy(key: string, dirtyWorkloads: Set<string>, dirtyWaypoints: Set<string>, batch: Batch): void {
    const [kind, ns, name] = splitKey(key);
    const root = this.model.options.rootNamespace;
    if (kind === "AuthorizationPolicy") this.#syncAuthorization(ns, name, dirtyWorkloads, batch);
    if (kind === "PeerAuthentication") {
      // A PeerAuthentication can change the effective mode of its namespace's workloads (or all, from the root).
      const reach = ns === root ? this.model.workloads() : this.model.workloadsInNamespace(ns);
      for (const w of reach) dirtyWorkloads.add(w.key);
    }
    const before = this.#policyWaypoints.get(key) ?? EMPTY;
    const after = this.#waypointsReachedBy(key);
    for (const wp of before) dirtyWaypoints.add(wp);
    for (const wp of after) dirtyWaypoints.add(wp);
    if (after.size > 0) this.#policyWaypoints.set(key, after);
    else this.#policyWaypoints.delete(key);
  }

  #syncAuthorization(ns: string, name: string, dirtyWorkloads: Set<string>, batch: Batch): void {
    const ref = `${ns}/${name}`;
    const root = this.model.options.rootNamespace;
    const object = this.model.object<AuthorizationPolicy>("AuthorizationPolicy", ns, name);
    const sent = object ? toZtunnelPolicy(object, root, { enableDryRun: this.#enableDryRun }).sent : null;
    if (sent) {
      const [resourceName, r] = authorizationResource(l4PolicyToProto(sent));
      this.#put(AUTHORIZATION_TYPE_URL, resourceName, r, batch);
      this.#userAuthz.add(ref);
    } else if (this.#userAuthz.delete(ref)) {
      this.#drop(AUTHORIZATION_TYPE_URL, ref, batch);
    }
    const labels = object && sent?.scope === "WORKLOAD_SELECTOR" ? policySelectorLabels(object) : undefined;
    const before = this.#policyMembers.get(ref) ?? EMPTY;
    let after: Set<string> = new Set();
    if (object && labels) {
      this.#selectorPolicies.set(ref, { policy: object, labels });
      addTo(this.#nsSelectorPolicies, ns, ref);
      // Only a root-namespace policy needs the whole mesh: it selects in every namespace.
      const candidates = ns === root ? this.model.workloads() : this.model.workloadsInNamespace(ns);
      after = new Set(candidates.filter((w) => policySelects(object, labels, w, root)).map((w) => w.key));
      this.#policyMembers.set(ref, after);
    } else {
      this.#selectorPolicies.delete(ref);
      this.#nsSelectorPolicies.get(ns)?.delete(ref);
      this.#policyMembers.delete(ref);
    }
    for (const w of before) if (!after.has(w)) dirtyWorkloads.add(w);
    for (const w of after) if (!before.has(w)) dirtyWorkloads.add(w);
  }

  #waypointsReachedBy(policyKey: string): Set<string> {
    const [kind, ns, name] = splitKey(policyKey);
    const out = new Set<string>();
    for (const a of this.model.policy(kind, ns, name)?.attachedTo ?? []) {
      if (a.startsWith("Gateway/")) out.add(a.slice("Gateway/".length));
      else if (a === "GatewayClass/istio-waypoint") {
        for (const wp of this.model.waypoints()) if (wp.meshManaged) out.add(`${wp.namespace}/${wp.name}`);
      } else if (a.startsWith("Service/") || a.startsWith("ServiceEntry/")) {
        const wp = this.#service(a)?.binding.waypoint;
        if (wp) out.add(`${wp.namespace}/${wp.name}`);
      }
    }
    return out;
  }

  #routeWaypoints(event: MeshEvent, out: Set<string>): void {
    const ns = event.type === "upsert" ? event.object.metadata.namespace : event.namespace;
    const name = event.type === "upsert" ? event.object.metadata.name : event.name;
    const route = this.model.object<HTTPRoute>("HTTPRoute", ns, name);
    if (!route) return;
    for (const key of routeParentServices(route)) {
      const wp = this.#service(key)?.binding.waypoint;
      if (wp) out.add(`${wp.namespace}/${wp.name}`);
    }
  }

  // ---- workloads ----

  #syncWorkload(key: string, dirtyWaypoints: Set<string>, batch: Batch): void {
    const w = this.model.workload(key);
    const services = w ? this.#servicesOf(w) : [];
    const serviceKeys = new Set(services.map((s) => s.key));
    this.#reindex(this.#workloadServices, this.#serviceMembers, key, serviceKeys);

    const userPolicies = w ? this.#selectorPoliciesOf(w) : [];
    this.#reindex(this.#workloadPolicies, this.#policyMembers, key, new Set(userPolicies));
    const peerKeys = w ? this.#syncPeer(w, batch) : [];
    this.#releasePeer(key, peerKeys, batch);

    const oldUid = this.#workloadUid.get(key);
    if (w) {
      const proto = workloadToProto(w, {
        ...this.#ctx,
        services,
        authorizationPolicies: [...new Set([...userPolicies, ...peerKeys])].sort(),
        namedPorts: namedPorts(this.model, w),
      });
      const [name, r] = addressResource(workloadAddress(proto));
      if (oldUid !== undefined && oldUid !== name) this.#drop(ADDRESS_TYPE_URL, oldUid, batch);
      this.#put(ADDRESS_TYPE_URL, name, r, batch);
      this.#workloadUid.set(key, name);
    } else if (oldUid !== undefined) {
      this.#drop(ADDRESS_TYPE_URL, oldUid, batch);
      this.#workloadUid.delete(key);
    }

    // Waypoints whose config lists this workload: its own binding, its services' waypoints, the one it runs.
    const reached = new Set<string>();
    if (w?.binding.waypoint) reached.add(`${w.binding.waypoint.namespace}/${w.binding.waypoint.name}`);
    for (const s of services) {
      const wp = this.#serviceWaypoint.get(s.key);
      if (wp !== undefined) reached.add(wp);
    }
    const gateway = w?.labels[Labels.gatewayName];
    if (w?.waypointInstance && gateway !== undefined) reached.add(`${w.namespace}/${gateway}`);
    for (const wp of this.#workloadWaypoints.get(key) ?? []) dirtyWaypoints.add(wp);
    for (const wp of reached) dirtyWaypoints.add(wp);
    if (reached.size > 0) this.#workloadWaypoints.set(key, reached);
    else this.#workloadWaypoints.delete(key);
  }

  #servicesOf(w: Workload): ServiceState[] {
    const out: ServiceState[] = [];
    for (const key of this.#nsServices.get(w.namespace) ?? []) {
      const s = this.#service(key);
      if (s && serviceSelects(s, w)) out.push(s);
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  #selectorPoliciesOf(w: Workload): string[] {
    const root = this.model.options.rootNamespace;
    const refs = [...(this.#nsSelectorPolicies.get(w.namespace) ?? [])];
    if (w.namespace !== root) refs.push(...(this.#nsSelectorPolicies.get(root) ?? []));
    return refs.filter((ref) => {
      const p = this.#selectorPolicies.get(ref);
      return p !== undefined && policySelects(p.policy, p.labels, w, root);
    });
  }

  /** Replaces `key`'s forward set and keeps the reverse index in step. */
  #reindex(forward: Map<string, Set<string>>, reverse: Map<string, Set<string>>, key: string, next: Set<string>): void {
    for (const old of forward.get(key) ?? []) if (!next.has(old)) reverse.get(old)?.delete(key);
    for (const k of next) addTo(reverse, k, key);
    if (next.size > 0) forward.set(key, next);
    else forward.delete(key);
  }

  /** The PeerAuthentication-derived policies this workload lists; sends each policy whose content moved. */
  #syncPeer(w: Workload, batch: Batch): string[] {
    const pas = this.model.objectsOf<PeerAuthentication>("PeerAuthentication");
    if (pas.length === 0) return [];
    const { keys, policies } = peerPoliciesFor(pas, w, this.model.options.rootNamespace);
    policies.forEach((p: L4Policy) => {
      const [name, r] = authorizationResource(l4PolicyToProto(p));
      this.#put(AUTHORIZATION_TYPE_URL, name, r, batch);
      addTo(this.#peerRefs, name, w.key);
    });
    return keys;
  }

  /** Drops the workload from PeerAuthentication policies it no longer lists; a policy nobody lists is removed. */
  #releasePeer(key: string, keep: readonly string[], batch: Batch): void {
    for (const old of this.#workloadPeer.get(key) ?? []) {
      if (keep.includes(old)) continue;
      const refs = this.#peerRefs.get(old);
      refs?.delete(key);
      if (refs && refs.size === 0) {
        this.#peerRefs.delete(old);
        if (!this.#userAuthz.has(old)) this.#drop(AUTHORIZATION_TYPE_URL, old, batch);
      }
    }
    if (keep.length > 0) this.#workloadPeer.set(key, [...keep]);
    else this.#workloadPeer.delete(key);
  }

  // ---- waypoints ----

  #syncWaypoint(key: string, batch: Batch): void {
    const slash = key.indexOf("/");
    const wp = this.model.waypoint(key.slice(0, slash), key.slice(slash + 1));
    if (!wp) {
      this.#drop(WAYPOINT_CONFIG_TYPE_URL, key, batch);
      return;
    }
    const configJson = JSON.stringify(buildWaypointConfig(this.model, wp));
    const config = create(WaypointConfigSchema, {
      name: wp.name,
      namespace: wp.namespace,
      version: contentVersion(new TextEncoder().encode(configJson)),
      configJson,
    });
    const [name, r] = waypointConfigResource(config);
    this.#put(WAYPOINT_CONFIG_TYPE_URL, name, r, batch);
  }
}
