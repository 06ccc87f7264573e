// The running control plane (ARCHITECTURE.md): a watched folder → the mesh model, updated event by event → the
// xDS server (Address, Authorization, WaypointConfig over delta ADS) and the CA, which signs only identities the
// model places on the asking node. Status conditions go back to the store for the objects whose conditions moved.
import type * as grpc from "@grpc/grpc-js";
import { type Logger, pino } from "pino";
import type { Diagnostic } from "../api/diagnostic.js";
import type { Condition } from "../api/resources.js";
import { FileStore } from "../config/file-store.js";
import type { ConfigStore, StoreEvent } from "../config/store.js";
import { AmbitError } from "../errors.js";
import { MeshCa } from "../identity/ca.js";
import { CertificateService } from "../identity/cert-service.js";
import type { ChangeSet } from "../mesh/model.js";
import { MeshModel } from "../mesh/model.js";
import type { Mode, Workload } from "../mesh/types.js";
import { POLICY_SPEC_VALIDATORS } from "../policy/validate.js";
import { XdsServer } from "../xds/server.js";
import { caAuthorizer } from "./ca-authorizer.js";
import { MeshSource } from "./mesh-source.js";

export interface ControlPlaneOptions {
  /** The folder of YAML manifests to watch. */
  folder: string;
  /**
   * A store to read instead of a FileStore on `folder` (e.g. the local runtime's view, which adds what a cluster
   * would report: pod IPs, nodes, Gateway status). Closed by stop().
   */
  store?: ConfigStore & { close(): void };
  /** Address both servers bind. Default 127.0.0.1. */
  host?: string;
  /** xDS port; 0 (default) picks a free one. Istio serves xDS on 15010/15012. */
  xdsPort?: number;
  /** CA port; 0 (default) picks a free one. */
  caPort?: number;
  /** Default cluster.local. */
  trustDomain?: string;
  /** `plan` (default): manifests not yet applied; `snapshot`: a live cluster's dump, where status decides. */
  mode?: Mode;
  /** Cluster id in workload uids. Default "Kubernetes". */
  clusterId?: string;
  /** Require `authorization: Bearer <node token>` on xDS streams (the tokens `registerNode` hands out). Default false. */
  requireXdsAuth?: boolean;
  /** A CA to use (e.g. loaded from files); default: a fresh root generated at start. */
  ca?: MeshCa;
  /** Where a workload runs when something other than `spec.nodeName` decides (the local runtime's scheduler). */
  nodeOf?: (w: Workload) => string | undefined;
  /** FileStore debounce. Default 50 ms. */
  debounceMs?: number;
  /** xDS push window. Default 5 ms. */
  pushWindowMs?: number;
  /** TLS for xDS; default insecure (local use). */
  xdsCredentials?: grpc.ServerCredentials;
  /** Default: pino at info level on stdout. */
  logger?: Logger;
}

type StatusKind = "Service" | "ServiceEntry" | "WorkloadEntry" | "AuthorizationPolicy";

export class ControlPlane {
  readonly #opts: ControlPlaneOptions;
  readonly #log: Logger;
  #store: (ConfigStore & { close(): void }) | undefined;
  #model: MeshModel | undefined;
  #source: MeshSource | undefined;
  #xds: XdsServer | undefined;
  #certs: CertificateService | undefined;
  #ca: MeshCa | undefined;
  #unwatch: (() => void) | undefined;
  /** Conditions last written per object, so only moved ones are written again. */
  readonly #written = new Map<string, string>();

  constructor(opts: ControlPlaneOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? pino({ name: "ambit-controlplane" });
  }

  get model(): MeshModel {
    return this.#need(this.#model);
  }

  get source(): MeshSource {
    return this.#need(this.#source);
  }

  get store(): ConfigStore {
    return this.#need(this.#store);
  }

  get ca(): MeshCa {
    return this.#need(this.#ca);
  }

  get xdsPort(): number {
    return this.#need(this.#xds).port;
  }

  get caPort(): number {
    return this.#need(this.#certs).port;
  }

  /** A bearer token for a node agent: it authenticates the node to the CA (and to xDS when required). Never logged. */
  registerNode(node: string): string {
    return this.ca.registerNode(node);
  }

  async start(): Promise<void> {
    if (this.#store) throw new AmbitError("AMBIT_CP_STARTED", "the control plane is already running");
    const o = this.#opts;
    const host = o.host ?? "127.0.0.1";
    const store =
      o.store ?? new FileStore(o.folder, { debounceMs: o.debounceMs, specValidators: POLICY_SPEC_VALIDATORS });
    const snapshot = store.list();
    this.#logDiagnostics(snapshot.diagnostics);
    const options = { mode: o.mode ?? "plan", ...(o.trustDomain ? { trustDomain: o.trustDomain } : {}) };
    const model = MeshModel.build(snapshot.objects, options);
    const source = new MeshSource(model, { clusterId: o.clusterId });
    this.#store = store;
    this.#model = model;
    this.#source = source;
    this.#writeAllStatus();

    const ca = o.ca ?? (await MeshCa.generate({ trustDomain: model.options.trustDomain }));
    ca.authorizer = caAuthorizer(() => model, { nodeOf: o.nodeOf });
    this.#ca = ca;
    const xds = new XdsServer({
      source,
      address: `${host.includes(":") ? `[${host}]` : host}:${o.xdsPort ?? 0}`,
      credentials: o.xdsCredentials,
      pushWindowMs: o.pushWindowMs,
      authenticate: o.requireXdsAuth ? (md) => this.#nodeOf(md) : undefined,
    });
    const certs = new CertificateService({ ca, host, port: o.caPort ?? 0 });
    try {
      await xds.start();
      this.#xds = xds;
      await certs.start();
      this.#certs = certs;
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.#unwatch = store.watch((events, diagnostics) => this.#onEvents(events, diagnostics));
    this.#log.info(
      { xdsPort: xds.port, caPort: certs.port, folder: o.folder, objects: snapshot.objects.length },
      "control plane started",
    );
  }

  async stop(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#store?.close();
    const xds = this.#xds;
    const certs = this.#certs;
    this.#xds = undefined;
    this.#certs = undefined;
    await Promise.all([xds?.stop(), certs?.stop(500)]);
    this.#store = undefined;
    this.#source = undefined;
    this.#model = undefined;
  }

  #need<T>(v: T | undefined): T {
    if (v === undefined) throw new AmbitError("AMBIT_CP_NOT_STARTED", "the control plane is not running");
    return v;
  }

  #nodeOf(md: grpc.Metadata): string {
    const header = md.get("authorization")[0];
    const token = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    const node = token === undefined ? undefined : this.#ca?.nodeForToken(token);
    if (node === undefined) throw new AmbitError("AMBIT_XDS_UNAUTHENTICATED", "missing or unknown node token");
    return node;
  }

  #onEvents(events: StoreEvent[], diagnostics: Diagnostic[]): void {
    const source = this.#source;
    if (!source) return;
    this.#logDiagnostics(diagnostics);
    for (const event of events) {
      const changes = source.apply(event);
      this.#writeStatus(changes);
    }
    this.#log.debug({ events: events.length }, "applied configuration changes");
  }

  #logDiagnostics(diagnostics: readonly Diagnostic[]): void {
    for (const d of diagnostics) {
      const fields = { code: d.code, resource: d.resource || undefined, file: d.file, line: d.line };
      if (d.level === "Error") this.#log.error(fields, d.message);
      else if (d.level === "Warning") this.#log.warn(fields, d.message);
      else this.#log.info(fields, d.message);
    }
  }

  #writeAllStatus(): void {
    const model = this.model;
    this.#writeStatus({
      workloads: new Set(model.workloads().map((w) => w.key)),
      services: new Set(model.services().map((s) => s.key)),
      waypoints: new Set(),
      policies: new Set(model.policies().map((p) => p.key)),
    });
  }

  #writeStatus(changes: ChangeSet): void {
    const model = this.model;
    for (const key of changes.services) {
      const [kind, ns, name] = key.split("/") as ["Service" | "ServiceEntry", string, string];
      this.#put(kind, ns, name, model.service(kind, ns, name)?.conditions);
    }
    for (const key of changes.workloads) {
      if (!key.startsWith("WorkloadEntry/")) continue;
      const [, ns = "", name = ""] = key.split("/");
      this.#put("WorkloadEntry", ns, name, model.workload(key)?.conditions);
    }
    for (const key of changes.policies) {
      if (!key.startsWith("AuthorizationPolicy/")) continue;
      const [, ns = "", name = ""] = key.split("/");
      this.#put("AuthorizationPolicy", ns, name, model.policy("AuthorizationPolicy", ns, name)?.conditions);
    }
  }

  #put(kind: StatusKind, namespace: string, name: string, conditions: Condition[] | undefined): void {
    const id = `${kind}/${namespace}/${name}`;
    if (conditions === undefined) {
      this.#written.delete(id);
      return;
    }
    const text = JSON.stringify(conditions);
    if (this.#written.get(id) === text) return;
    this.#written.set(id, text);
    this.store.writeStatus({ kind, namespace, name, conditions });
  }
}
