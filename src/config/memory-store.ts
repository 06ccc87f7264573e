// An in-memory config store, for tests and embedding.
import type { Diagnostic } from "../api/diagnostic.js";
import type { KubeObject } from "../api/resources.js";
import { type ConfigStore, objectIdentity, type StatusUpdate, type StoreEvent, type StoreSnapshot } from "./store.js";

export class MemoryStore implements ConfigStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly listeners = new Set<(events: StoreEvent[], diagnostics: Diagnostic[]) => void>();
  readonly statuses = new Map<string, StatusUpdate>();

  constructor(initial: Iterable<KubeObject> = []) {
    for (const o of initial) this.objects.set(objectIdentity(o), o);
  }

  list(): StoreSnapshot {
    return { objects: [...this.objects.values()], diagnostics: [] };
  }

  watch(listener: (events: StoreEvent[], diagnostics: Diagnostic[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  writeStatus(update: StatusUpdate): void {
    this.statuses.set(`${update.kind}/${update.namespace ?? ""}/${update.name}`, update);
  }

  upsert(object: KubeObject): void {
    this.objects.set(objectIdentity(object), object);
    this.emit([{ type: "upsert", object }]);
  }

  delete(kind: string, namespace: string | undefined, name: string): void {
    if (this.objects.delete(`${kind}/${namespace ?? ""}/${name}`))
      this.emit([{ type: "delete", kind, namespace, name }]);
  }

  private emit(events: StoreEvent[]): void {
    for (const l of this.listeners) l(events, []);
  }
}
