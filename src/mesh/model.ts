// The mesh model: resources in, derived mesh state out, updated incrementally. An event recomputes only what
// depends on it (Istio's krt idea, hand-rolled with reverse indexes): namespaces → their workloads and services;
// a waypoint → the objects that asked for it and the policies that target it; a service's binding → the policies
// that target the service.
import { Annotations, Labels } from "../api/labels.js";
import type {
  AuthorizationPolicy,
  Condition,
  Gateway,
  GatewayClass,
  KubeObject,
  Service,
  ServiceEntry,
  TargetedSpec,
} from "../api/resources.js";
import { type Attachment, type AttachmentContext, computeAttachment, targetRefsOf } from "./attachments.js";
import { fetchWaypointForService, fetchWaypointForWorkload, type WaypointLookup } from "./bindings.js";
import { type CaptureDecision, decideCapture, spiffeIdentity } from "./capture.js";
import { parseGoBool, waypointBoundCondition } from "./conditions.js";
import { servicesFromObject } from "./services.js";
import {
  type Binding,
  DEFAULT_OPTIONS,
  type MeshOptions,
  type PolicyState,
  type ServiceState,
  type Waypoint,
  type Workload,
  type WorkloadInput,
  waypointKeyString,
  workloadKey,
} from "./types.js";
import { gatewayToWaypoint } from "./waypoints.js";
import { workloadsFromObject } from "./workload-inputs.js";
import { makeZtunnelTranslator } from "./ztunnel-policies.js";

export type MeshEvent =
  | { type: "upsert"; object: KubeObject }
  | { type: "delete"; kind: string; namespace?: string; name: string };

/** What an event touched: workloads whose derived state changed (a namespace edit reaches thousands, so only real
 *  changes are reported), and the services, waypoints and policies that were recomputed. A key no longer present
 *  in the model was removed. */
export interface ChangeSet {
  workloads: Set<string>;
  services: Set<string>;
  waypoints: Set<string>;
  policies: Set<string>;
}

export type ZtunnelTranslator = AttachmentContext["ztunnelTranslation"];

const WORKLOAD_KINDS = new Set(["Pod", "Deployment", "WorkloadEntry", "ServiceEntry"]);
const POLICY_KINDS = new Set([
  "AuthorizationPolicy",
  "RequestAuthentication",
  "Telemetry",
  "WasmPlugin",
  "PeerAuthentication",
]);

const NO_BINDING: Binding = Object.freeze({ waypoint: null, decidedBy: null });
const NO_CONDITIONS: Condition[] = [];

function emptyChanges(): ChangeSet {
  return { workloads: new Set(), services: new Set(), waypoints: new Set(), policies: new Set() };
}

function objectKeyOf(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export class MeshModel {
  readonly options: MeshOptions;
  private readonly translate: ZtunnelTranslator;

  // inputs
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly workloadInputs = new Map<string, WorkloadInput>();
  private readonly workloadsByObject = new Map<string, string[]>();
  private readonly servicesByObject = new Map<string, string[]>();
  private readonly serviceInputs = new Map<string, ServiceState>();
  private readonly nsWorkloads = new Map<string, Set<string>>();
  private readonly nsServices = new Map<string, Set<string>>();

  // derived
  private readonly derivedWorkloads = new Map<string, Workload>();
  /** The input each derived workload was computed from, to tell a real change from a recompute. */
  private readonly derivedFrom = new Map<string, WorkloadInput>();
  private readonly derivedServices = new Map<string, ServiceState>();
  private readonly derivedWaypoints = new Map<string, Waypoint>();
  private readonly derivedPolicies = new Map<string, PolicyState & { attachment: Attachment }>();

  // reverse indexes: waypoint key → dependents ("w:" workload / "s:" service), and back
  private readonly waypointDependents = new Map<string, Set<string>>();
  private readonly dependencyOf = new Map<string, readonly string[]>();
  /** Within one propagation: what every pod without mesh labels of its own gets from its namespace. */
  private readonly inheritedByNamespace = new Map<string, Inherited>();
  private readonly policiesByTarget = new Map<string, Set<string>>();
  private readonly targetsOfPolicy = new Map<string, string[]>();
  private readonly namespaceWidePolicies = new Set<string>();

  constructor(options: Partial<MeshOptions> = {}, translate?: ZtunnelTranslator) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.translate = translate ?? makeZtunnelTranslator(this.options.rootNamespace);
  }

  /** Build from a complete set of objects: load everything, then derive once. */
  static build(
    objects: Iterable<KubeObject>,
    options: Partial<MeshOptions> = {},
    translate?: ZtunnelTranslator,
  ): MeshModel {
    const model = new MeshModel(options, translate);
    for (const o of objects) model.store(o);
    model.recomputeAll();
    return model;
  }

  apply(event: MeshEvent): ChangeSet {
    const dirty = emptyChanges();
    if (event.type === "upsert") this.upsert(event.object, dirty);
    else this.remove(event.kind, event.namespace, event.name, dirty);
    return this.propagate(dirty);
  }

  // ---- queries ----

  object<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(kind)?.get(namespace ? `${namespace}/${name}` : name) as T | undefined;
  }

  objectsOf<T extends KubeObject = KubeObject>(kind: string): T[] {
    return [...(this.objects.get(kind)?.values() ?? [])] as T[];
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.object("Namespace", undefined, namespace)?.metadata.labels;
  }

  namespaces(): string[] {
    const names = new Set<string>([...this.nsWorkloads.keys(), ...this.nsServices.keys()]);
    for (const ns of this.objects.get("Namespace")?.keys() ?? []) names.add(ns);
    return [...names].sort();
  }

  workloads(): Workload[] {
    return [...this.derivedWorkloads.values()];
  }

  workload(key: string): Workload | undefined {
    return this.derivedWorkloads.get(key);
  }

  workloadsInNamespace(namespace: string): Workload[] {
    return [...(this.nsWorkloads.get(namespace) ?? [])]
      .map((k) => this.derivedWorkloads.get(k))
      .filter((w): w is Workload => !!w);
  }

  services(): ServiceState[] {
    return [...this.derivedServices.values()];
  }

  service(kind: "Service" | "ServiceEntry", namespace: string, name: string): ServiceState | undefined {
    return this.derivedServices.get(`${kind}/${namespace}/${name}`);
  }

  waypoints(): Waypoint[] {
    return [...this.derivedWaypoints.values()];
  }

  waypoint(namespace: string, name: string): Waypoint | undefined {
    return this.derivedWaypoints.get(`${namespace}/${name}`);
  }

  policies(): Array<PolicyState & { attachment: Attachment }> {
    return [...this.derivedPolicies.values()];
  }

  policy(kind: string, namespace: string, name: string): (PolicyState & { attachment: Attachment }) | undefined {
    return this.derivedPolicies.get(`${kind}/${namespace}/${name}`);
  }

  /** Services whose traffic goes through a waypoint; drives Service-targeted policies and `waypoint list`. */
  servicesBoundTo(w: Waypoint): ServiceState[] {
    return this.services().filter(
      (s) => s.binding.waypoint?.namespace === w.namespace && s.binding.waypoint?.name === w.name,
    );
  }

  workloadsBoundTo(w: Waypoint): Workload[] {
    return this.workloads().filter(
      (x) => x.binding.waypoint?.namespace === w.namespace && x.binding.waypoint?.name === w.name,
    );
  }

  // ---- storing inputs ----

  private store(o: KubeObject): void {
    const byKind = this.objects.get(o.kind) ?? new Map<string, KubeObject>();
    this.objects.set(o.kind, byKind);
    const ns = o.metadata.namespace;
    byKind.set(ns ? `${ns}/${o.metadata.name}` : o.metadata.name, o);
    const okey = objectKeyOf(o.kind, ns, o.metadata.name);
    if (WORKLOAD_KINDS.has(o.kind)) this.storeWorkloads(okey, workloadsFromObject(o, this.options.mode));
    if (o.kind === "Service" || o.kind === "ServiceEntry")
      this.storeServices(okey, servicesFromObject(o as Service | ServiceEntry));
  }

  private storeWorkloads(okey: string, inputs: WorkloadInput[], dirty?: ChangeSet): void {
    for (const old of this.workloadsByObject.get(okey) ?? []) {
      const input = this.workloadInputs.get(old);
      if (input) this.nsWorkloads.get(input.namespace)?.delete(old);
      this.workloadInputs.delete(old);
      dirty?.workloads.add(old);
    }
    const keys: string[] = [];
    for (const input of inputs) {
      const key = workloadKey(input.kind, input.namespace, input.name);
      keys.push(key);
      this.workloadInputs.set(key, input);
      addToIndex(this.nsWorkloads, input.namespace, key);
      dirty?.workloads.add(key);
    }
    if (keys.length > 0) this.workloadsByObject.set(okey, keys);
    else this.workloadsByObject.delete(okey);
  }

  private storeServices(okey: string, inputs: ServiceState[], dirty?: ChangeSet): void {
    for (const old of this.servicesByObject.get(okey) ?? []) {
      const input = this.serviceInputs.get(old);
      if (input) this.nsServices.get(input.namespace)?.delete(old);
      this.serviceInputs.delete(old);
      dirty?.services.add(old);
    }
    const keys: string[] = [];
    for (const input of inputs) {
      keys.push(input.key);
      this.serviceInputs.set(input.key, input);
      addToIndex(this.nsServices, input.namespace, input.key);
      dirty?.services.add(input.key);
    }
    if (keys.length > 0) this.servicesByObject.set(okey, keys);
    else this.servicesByObject.delete(okey);
  }

  private upsert(o: KubeObject, dirty: ChangeSet): void {
    const ns = o.metadata.namespace;
    const okey = objectKeyOf(o.kind, ns, o.metadata.name);
    const byKind = this.objects.get(o.kind) ?? new Map<string, KubeObject>();
    this.objects.set(o.kind, byKind);
    byKind.set(ns ? `${ns}/${o.metadata.name}` : o.metadata.name, o);
    this.markDirty(o.kind, ns, o.metadata.name, dirty);
    if (WORKLOAD_KINDS.has(o.kind)) this.storeWorkloads(okey, workloadsFromObject(o, this.options.mode), dirty);
    if (o.kind === "Service" || o.kind === "ServiceEntry")
      this.storeServices(okey, servicesFromObject(o as Service | ServiceEntry), dirty);
  }

  private remove(kind: string, ns: string | undefined, name: string, dirty: ChangeSet): void {
    const byKind = this.objects.get(kind);
    if (!byKind?.delete(ns ? `${ns}/${name}` : name)) return;
    this.markDirty(kind, ns, name, dirty);
    const okey = objectKeyOf(kind, ns, name);
    if (WORKLOAD_KINDS.has(kind)) this.storeWorkloads(okey, [], dirty);
    if (kind === "Service" || kind === "ServiceEntry") this.storeServices(okey, [], dirty);
  }

  private markDirty(kind: string, ns: string | undefined, name: string, dirty: ChangeSet): void {
    if (kind === "Namespace") {
      for (const k of this.nsWorkloads.get(name) ?? []) dirty.workloads.add(k);
      for (const k of this.nsServices.get(name) ?? []) dirty.services.add(k);
    } else if (kind === "Gateway") {
      dirty.waypoints.add(`${ns}/${name}`);
    } else if (kind === "GatewayClass") {
      for (const [key, gw] of this.objects.get("Gateway") ?? []) {
        if ((gw as Gateway).spec?.gatewayClassName === name) dirty.waypoints.add(key);
      }
    } else if (POLICY_KINDS.has(kind)) {
      dirty.policies.add(`${kind}/${ns}/${name}`);
    }
  }

  // ---- deriving ----

  private recomputeAll(): void {
    const dirty = emptyChanges();
    for (const key of this.objects.get("Gateway")?.keys() ?? []) dirty.waypoints.add(key);
    for (const key of this.serviceInputs.keys()) dirty.services.add(key);
    for (const key of this.workloadInputs.keys()) dirty.workloads.add(key);
    for (const kind of POLICY_KINDS) {
      for (const o of this.objects.get(kind)?.values() ?? [])
        dirty.policies.add(`${kind}/${o.metadata.namespace}/${o.metadata.name}`);
    }
    this.propagate(dirty);
  }

  private propagate(dirty: ChangeSet): ChangeSet {
    for (const key of dirty.waypoints) {
      this.recomputeWaypoint(key);
      for (const dep of this.waypointDependents.get(key) ?? []) {
        if (dep.startsWith("w:")) dirty.workloads.add(dep.slice(2));
        else dirty.services.add(dep.slice(2));
      }
      for (const p of this.policiesByTarget.get(`Gateway/${key}`) ?? []) dirty.policies.add(p);
      for (const p of this.namespaceWidePolicies) dirty.policies.add(p);
    }
    for (const key of dirty.services) {
      const previous = this.derivedServices.get(key);
      const before = previous?.binding.waypoint;
      const after = this.recomputeService(key);
      const appearedOrVanished = !previous || !after;
      if (
        appearedOrVanished ||
        before?.namespace !== after.binding.waypoint?.namespace ||
        before?.name !== after.binding.waypoint?.name
      ) {
        for (const p of this.policiesByTarget.get(key) ?? []) dirty.policies.add(p);
        for (const p of this.namespaceWidePolicies) dirty.policies.add(p);
      }
    }
    this.inheritedByNamespace.clear();
    const changedWorkloads = new Set<string>();
    for (const key of dirty.workloads) if (this.recomputeWorkload(key)) changedWorkloads.add(key);
    for (const key of dirty.policies) this.recomputePolicy(key);
    return { ...dirty, workloads: changedWorkloads };
  }

  private recomputeWaypoint(key: string): void {
    const gw = this.objects.get("Gateway")?.get(key) as Gateway | undefined;
    if (!gw) {
      this.derivedWaypoints.delete(key);
      return;
    }
    const cls = this.object<GatewayClass>("GatewayClass", undefined, gw.spec?.gatewayClassName ?? "");
    this.derivedWaypoints.set(key, gatewayToWaypoint(gw, cls, this.options));
  }

  /** Runs `compute` with a waypoint lookup that records which waypoint keys `dependent` asked for, so a waypoint
   *  change reaches it. The reverse index is touched only when the set of keys changed (usually it did not). */
  private withWaypointLookup<T>(dependent: string, compute: (lookup: WaypointLookup) => T): T {
    const asked: string[] = [];
    const result = compute((namespace, name) => {
      const key = `${namespace}/${name}`;
      asked.push(key);
      return this.derivedWaypoints.get(key);
    });
    this.trackDependencies(dependent, asked);
    return result;
  }

  /** Records the waypoint keys `dependent` asked for; the reverse index is touched only when they changed. */
  private trackDependencies(dependent: string, asked: readonly string[]): void {
    const previous = this.dependencyOf.get(dependent);
    if (previous && previous.length === asked.length && previous.every((k, i) => k === asked[i])) return;
    this.untrack(dependent);
    if (asked.length > 0) {
      this.dependencyOf.set(dependent, asked);
      for (const key of asked) addToIndex(this.waypointDependents, key, dependent);
    }
  }

  private untrack(dependent: string): void {
    for (const key of this.dependencyOf.get(dependent) ?? []) this.waypointDependents.get(key)?.delete(dependent);
    this.dependencyOf.delete(dependent);
  }

  private recomputeService(key: string): ServiceState | undefined {
    const input = this.serviceInputs.get(key);
    const dep = `s:${key}`;
    if (!input) {
      this.untrack(dep);
      this.derivedServices.delete(key);
      return undefined;
    }
    const nsLabels = this.namespaceLabels(input.namespace);
    const managed = input.labels[Labels.gatewayManaged];
    // Waypoint and east-west gateway Services never get a waypoint themselves.
    const binding =
      managed === "istio.io-mesh-controller" || managed === "istio.io-eastwest-controller"
        ? NO_BINDING
        : this.withWaypointLookup(dep, (lookup) => fetchWaypointForService(input, nsLabels, lookup));
    const ingressLabel = input.labels[Labels.ingressUseWaypoint] ?? nsLabels?.[Labels.ingressUseWaypoint];
    const ingressUseWaypoint = ingressLabel !== undefined && parseGoBool(ingressLabel);
    const condition = waypointBoundCondition(binding, {
      useWaypoint: ingressUseWaypoint,
      labelPresent: ingressLabel !== undefined,
    });
    const state: ServiceState = {
      ...input,
      binding,
      ingressUseWaypoint,
      ingressLabelPresent: ingressLabel !== undefined,
      conditions: condition ? [condition] : [],
    };
    this.derivedServices.set(key, state);
    return state;
  }

  /** Returns whether the workload's derived state changed. */
  private recomputeWorkload(key: string): boolean {
    const input = this.workloadInputs.get(key);
    const dep = `w:${key}`;
    if (!input) {
      this.untrack(dep);
      this.derivedFrom.delete(key);
      return this.derivedWorkloads.delete(key);
    }
    const nsLabels = this.namespaceLabels(input.namespace);
    let capture: CaptureDecision;
    let binding: Binding;
    let waypointInstance = false;
    if (inheritsEverything(input)) {
      // Capture and binding are then functions of the namespace alone: decide once per namespace and share the
      // result (a namespace label change reaches every such pod; this keeps it from allocating per pod).
      let shared = this.inheritedByNamespace.get(input.namespace);
      if (!shared) {
        const asked: string[] = [];
        const sharedBinding = fetchWaypointForWorkload(input, nsLabels, (namespace, name) => {
          asked.push(`${namespace}/${name}`);
          return this.derivedWaypoints.get(`${namespace}/${name}`);
        });
        shared = { capture: decideCapture(input, nsLabels, this.options), binding: sharedBinding, asked };
        this.inheritedByNamespace.set(input.namespace, shared);
      }
      capture = shared.capture;
      binding = shared.binding;
      this.trackDependencies(dep, shared.asked);
    } else {
      capture = decideCapture(input, nsLabels, this.options);
      const gatewayName = input.labels[Labels.gatewayName];
      binding = this.withWaypointLookup(dep, (lookup) => {
        waypointInstance = gatewayName !== undefined && lookup(input.namespace, gatewayName)?.ready === true;
        return waypointInstance ? NO_BINDING : fetchWaypointForWorkload(input, nsLabels, lookup);
      });
    }
    const condition = input.kind === "WorkloadEntry" ? waypointBoundCondition(binding) : undefined;
    const previous = this.derivedWorkloads.get(key);
    if (
      previous &&
      this.derivedFrom.get(key) === input &&
      previous.captured === capture.captured &&
      previous.captureReason === capture.reason &&
      previous.waypointInstance === waypointInstance &&
      sameBinding(previous.binding, binding)
    ) {
      return false;
    }
    // Built field by field (not by spreading the input): this runs for every pod of a namespace on a label change.
    const workload: Workload = {
      kind: input.kind,
      namespace: input.namespace,
      name: input.name,
      labels: input.labels,
      annotations: input.annotations,
      serviceAccount: input.serviceAccount,
      ip: input.ip,
      node: input.node,
      hostNetwork: input.hostNetwork,
      owner: input.owner,
      serviceEntry: input.serviceEntry,
      source: input.source,
      key,
      captured: capture.captured,
      captureReason: capture.reason,
      identity:
        previous && this.derivedFrom.get(key) === input
          ? previous.identity
          : spiffeIdentity(this.options.trustDomain, input.namespace, input.serviceAccount),
      binding,
      waypointInstance,
      conditions: condition ? [condition] : NO_CONDITIONS,
    };
    this.derivedWorkloads.set(key, workload);
    this.derivedFrom.set(key, input);
    return true;
  }

  private recomputePolicy(key: string): void {
    const [kind, ns, name] = splitPolicyKey(key);
    for (const t of this.targetsOfPolicy.get(key) ?? []) this.policiesByTarget.get(t)?.delete(key);
    this.targetsOfPolicy.delete(key);
    this.namespaceWidePolicies.delete(key);
    const policy = this.object<KubeObject<TargetedSpec>>(kind, ns, name);
    if (!policy) {
      this.derivedPolicies.delete(key);
      return;
    }
    const refs = targetRefsOf(policy.spec);
    const targets = refs.map((r) => (r.kind === "Gateway" ? `Gateway/${ns}/${r.name}` : `${r.kind}/${ns}/${r.name}`));
    for (const t of targets) {
      addToIndex(this.policiesByTarget, t, key);
    }
    this.targetsOfPolicy.set(key, targets);
    if (refs.length === 0 && kind === "Telemetry" && !policy.spec?.selector) this.namespaceWidePolicies.add(key);
    const attachment = computeAttachment(policy, this.attachmentContext());
    this.derivedPolicies.set(key, {
      kind,
      namespace: ns,
      name,
      key,
      attachedTo: attachment.attachedTo,
      conditions: attachment.conditions,
      object: policy,
      attachment,
    });
  }

  private attachmentContext(): AttachmentContext {
    return {
      rootNamespace: this.options.rootNamespace,
      waypoint: (ns, name) => this.derivedWaypoints.get(`${ns}/${name}`),
      service: (kind, ns, name) => this.derivedServices.get(`${kind}/${ns}/${name}`),
      gatewayClass: (name) => this.object<GatewayClass>("GatewayClass", undefined, name),
      waypointsForNamespace: (ns) => {
        const own = this.waypoints().filter((w) => w.ready && w.namespace === ns);
        const viaServices = [...(this.nsServices.get(ns) ?? [])]
          .map((k) => this.derivedServices.get(k)?.binding.waypoint)
          .filter((w): w is Waypoint => !!w);
        return [...own, ...viaServices];
      },
      allWaypoints: () => this.waypoints().filter((w) => w.ready),
      ztunnelTranslation: (p: AuthorizationPolicy) => this.translate(p),
    };
  }
}

interface Inherited {
  capture: CaptureDecision;
  binding: Binding;
  asked: readonly string[];
}

/** A pod with none of the labels or annotations that make its own capture or binding decision. */
function inheritsEverything(input: WorkloadInput): boolean {
  if (input.kind !== "Pod" || input.hostNetwork) return false;
  const l = input.labels;
  return (
    l[Labels.dataplaneMode] === undefined &&
    l[Labels.useWaypoint] === undefined &&
    l[Labels.useWaypointNamespace] === undefined &&
    l[Labels.gatewayName] === undefined &&
    input.annotations[Annotations.sidecarStatus] === undefined
  );
}

function sameBinding(a: Binding, b: Binding): boolean {
  return (
    a.waypoint === b.waypoint &&
    a.decidedBy === b.decidedBy &&
    a.requested === b.requested &&
    a.silent === b.silent &&
    a.error?.reason === b.error?.reason &&
    a.error?.message === b.error?.message
  );
}

function addToIndex(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function splitPolicyKey(key: string): [string, string, string] {
  const [kind, ns, name] = key.split("/") as [string, string, string];
  return [kind, ns, name];
}

export { waypointKeyString };
