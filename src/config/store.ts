// The config store: the one place that reads the outside world's configuration (ARCHITECTURE.md).
import type { Diagnostic } from "../api/diagnostic.js";
import type { Condition, KubeObject } from "../api/resources.js";

export type StoreEvent =
  | { type: "upsert"; object: KubeObject }
  | { type: "delete"; kind: string; namespace?: string; name: string };

export interface StoreSnapshot {
  objects: KubeObject[];
  diagnostics: Diagnostic[];
}

export interface StatusUpdate {
  kind: string;
  namespace?: string;
  name: string;
  conditions: Condition[];
}

export interface ConfigStore {
  list(): StoreSnapshot;
  /** Calls `listener` with batches of changes; returns a function that stops watching. */
  watch(listener: (events: StoreEvent[], diagnostics: Diagnostic[]) => void): () => void;
  writeStatus(update: StatusUpdate): void;
}

export function objectIdentity(o: { kind: string; metadata: { namespace?: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}
