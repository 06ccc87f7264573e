// A ResourceSource kept in memory: for tests, benchmarks and small embeddings. Every change is
// forwarded to listeners as it happens; the server does its own batching.
import type { Any } from "@bufbuild/protobuf/wkt";
import type { ResourceListener, ResourceSource, VersionedResource } from "./types.js";

export class MemorySource implements ResourceSource {
  readonly #byType = new Map<string, Map<string, VersionedResource>>();
  readonly #listeners = new Set<ResourceListener>();

  snapshot(typeUrl: string): ReadonlyMap<string, VersionedResource> {
    return this.#byType.get(typeUrl) ?? new Map();
  }

  subscribe(listener: ResourceListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds or replaces resources of one type; `version` must change whenever the content does. */
  apply(
    typeUrl: string,
    upserts: Iterable<[string, { version: string; resource: Any }]>,
    removes: string[] = [],
  ): void {
    const current = this.#table(typeUrl);
    const changed = new Map<string, VersionedResource>();
    for (const [name, r] of upserts) {
      current.set(name, r);
      changed.set(name, r);
    }
    const removed = removes.filter((name) => current.delete(name));
    if (changed.size === 0 && removed.length === 0) return;
    for (const listener of this.#listeners) listener(typeUrl, changed, removed);
  }

  set(typeUrl: string, name: string, version: string, resource: Any): void {
    this.apply(typeUrl, [[name, { version, resource }]]);
  }

  remove(typeUrl: string, ...names: string[]): void {
    this.apply(typeUrl, [], names);
  }

  #table(typeUrl: string): Map<string, VersionedResource> {
    let table = this.#byType.get(typeUrl);
    if (table === undefined) {
      table = new Map();
      this.#byType.set(typeUrl, table);
    }
    return table;
  }
}
