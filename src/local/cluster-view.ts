// What the control plane reads under `ambit up`: the watched folder as a live cluster would report it (istiod reads
// the Kubernetes API, not manifests). File objects pass through with runtime facts filled in (a Pod's IP, node and
// phase; a Service's VIP; a waypoint Gateway's status), and the runtime adds the objects a cluster would have made:
// the pods of Deployments and the waypoint's pod, Service and ServiceAccount.
import type { Diagnostic } from "../api/diagnostic.js";
import type { KubeObject } from "../api/resources.js";
import type { FileStore } from "../config/file-store.js";
import {
  type ConfigStore,
  objectIdentity,
  type StatusUpdate,
  type StoreEvent,
  type StoreSnapshot,
} from "../config/store.js";

type Listener = (events: StoreEvent[], diagnostics: Diagnostic[]) => void;

/** Fills runtime facts into a file object (returns it unchanged when there are none). */
export type Enricher = (object: KubeObject) => KubeObject;

export class ClusterView implements ConfigStore {
  readonly #files: FileStore;
  readonly #enrich: Enricher;
  readonly #fileObjects = new Map<string, KubeObject>();
  readonly #extras = new Map<string, KubeObject>();
  readonly #listeners = new Set<Listener>();
  readonly #onFiles: (events: StoreEvent[]) => void;
  #unwatch: (() => void) | undefined;

  /** `onFiles` runs after the control plane saw a batch of file changes (the runtime reconciles then). */
  constructor(files: FileStore, enrich: Enricher, onFiles: (events: StoreEvent[]) => void) {
    this.#files = files;
    this.#enrich = enrich;
    this.#onFiles = onFiles;
    for (const o of files.list().objects) this.#fileObjects.set(objectIdentity(o), o);
  }

  /** The objects as written in the folder (no runtime facts). */
  fileObjects(): KubeObject[] {
    return [...this.#fileObjects.values()];
  }

  list(): StoreSnapshot {
    const snapshot = this.#files.list();
    return { objects: this.#merged(), diagnostics: snapshot.diagnostics };
  }

  watch(listener: Listener): () => void {
    this.#listeners.add(listener);
    this.#unwatch ??= this.#files.watch((events, diagnostics) => this.#fromFiles(events, diagnostics));
    return () => {
      this.#listeners.delete(listener);
    };
  }

  writeStatus(update: StatusUpdate): void {
    this.#files.writeStatus(update);
  }

  close(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#files.close();
  }

  /** Re-sends a file object with the runtime's current facts (its IP or VIP changed). */
  refresh(kind: string, namespace: string | undefined, name: string): void {
    const o = this.#fileObjects.get(objectIdentity({ kind, metadata: { namespace, name } }));
    if (o) this.#emit([{ type: "upsert", object: this.#enrich(o) }]);
  }

  /** Adds or replaces an object the runtime made (a Deployment's pod, a waypoint's Service). */
  putExtra(object: KubeObject): void {
    this.#extras.set(objectIdentity(object), object);
    this.#emit([{ type: "upsert", object }]);
  }

  deleteExtra(kind: string, namespace: string | undefined, name: string): void {
    const id = objectIdentity({ kind, metadata: { namespace, name } });
    if (!this.#extras.delete(id)) return;
    const file = this.#fileObjects.get(id);
    this.#emit([file ? { type: "upsert", object: this.#enrich(file) } : { type: "delete", kind, namespace, name }]);
  }

  extra(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#extras.get(objectIdentity({ kind, metadata: { namespace, name } }));
  }

  #merged(): KubeObject[] {
    const out = new Map<string, KubeObject>();
    for (const [id, o] of this.#fileObjects) out.set(id, this.#enrich(o));
    for (const [id, o] of this.#extras) out.set(id, o);
    return [...out.values()];
  }

  #fromFiles(events: StoreEvent[], diagnostics: Diagnostic[]): void {
    const out: StoreEvent[] = [];
    for (const e of events) {
      if (e.type === "upsert") {
        const id = objectIdentity(e.object);
        this.#fileObjects.set(id, e.object);
        // An object the runtime made under the same name (a pod with its IP) stays what the cluster reports.
        if (!this.#extras.has(id)) out.push({ type: "upsert", object: this.#enrich(e.object) });
      } else {
        const id = objectIdentity({ kind: e.kind, metadata: { namespace: e.namespace, name: e.name } });
        this.#fileObjects.delete(id);
        if (!this.#extras.has(id)) out.push(e);
      }
    }
    this.#emit(out, diagnostics);
    this.#onFiles(events);
  }

  #emit(events: StoreEvent[], diagnostics: Diagnostic[] = []): void {
    if (events.length === 0 && diagnostics.length === 0) return;
    for (const l of this.#listeners) l(events, diagnostics);
  }
}
