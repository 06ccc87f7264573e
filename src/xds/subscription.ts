// What one client wants of one type and what it already holds: the per-connection, per-type state
// from which the server derives deltas (Envoy's delta xDS protocol; spec data-plane.md §4.1).
import type { VersionedResource } from "./types.js";

export interface Delta {
  readonly upserts: [string, VersionedResource][];
  readonly removes: string[];
}

export const WILDCARD = "*";

export class Subscription {
  #wildcard = false;
  readonly #names = new Set<string>();
  /** name -> version the client holds, or was last sent (a NACKed version counts as held: never resent). */
  readonly #known = new Map<string, string>();

  get wildcard(): boolean {
    return this.#wildcard;
  }

  get names(): ReadonlySet<string> {
    return this.#names;
  }

  get known(): ReadonlyMap<string, string> {
    return this.#known;
  }

  interested(name: string): boolean {
    return this.#wildcard || this.#names.has(name);
  }

  /**
   * Opens the subscription from the stream's first request of this type. An empty subscribe list is
   * the legacy wildcard unless "*" is also unsubscribed (ztunnel's on-demand mode asks for nothing that way).
   */
  open(
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    initialVersions: Readonly<Record<string, string>>,
  ): void {
    if (subscribe.length === 0 && !unsubscribe.includes(WILDCARD)) this.#wildcard = true;
    this.#apply(subscribe, unsubscribe);
    for (const [name, version] of Object.entries(initialVersions)) {
      if (this.interested(name)) this.#known.set(name, version);
    }
  }

  /** Applies a later request's list changes; returns the names that must be answered now. */
  change(subscribe: readonly string[], unsubscribe: readonly string[]): { wildcardAdded: boolean; added: string[] } {
    const hadWildcard = this.#wildcard;
    const added = subscribe.filter((n) => n !== WILDCARD);
    this.#apply(subscribe, unsubscribe);
    return { wildcardAdded: !hadWildcard && this.#wildcard, added };
  }

  /**
   * The delta that brings the client from what it holds to `snapshot`: everything the client is
   * interested in and lacks or holds at another version, and removals for what it holds that is gone.
   */
  diffSnapshot(snapshot: ReadonlyMap<string, VersionedResource>): Delta {
    const upserts: [string, VersionedResource][] = [];
    const removes: string[] = [];
    if (this.#wildcard) {
      for (const [name, r] of snapshot) if (this.#known.get(name) !== r.version) upserts.push([name, r]);
    } else {
      for (const name of this.#names) {
        const r = snapshot.get(name);
        if (r !== undefined && this.#known.get(name) !== r.version) upserts.push([name, r]);
      }
    }
    for (const name of this.#known.keys()) if (!snapshot.has(name)) removes.push(name);
    return { upserts, removes };
  }

  /**
   * Answers explicitly subscribed names even if the client may hold them (it may have dropped them);
   * a name that does not exist is reported in removed_resources.
   */
  answerNames(names: readonly string[], snapshot: ReadonlyMap<string, VersionedResource>): Delta {
    const upserts: [string, VersionedResource][] = [];
    const removes: string[] = [];
    for (const name of names) {
      const r = snapshot.get(name);
      if (r !== undefined) upserts.push([name, r]);
      else removes.push(name);
    }
    return { upserts, removes };
  }

  /** The part of a batch of change events this client must see. */
  diffEvents(upserts: ReadonlyMap<string, VersionedResource>, removes: Iterable<string>): Delta {
    const out: Delta = { upserts: [], removes: [] };
    for (const [name, r] of upserts) {
      if (this.interested(name) && this.#known.get(name) !== r.version) out.upserts.push([name, r]);
    }
    for (const name of removes) if (this.#known.has(name)) out.removes.push(name);
    return out;
  }

  /** Records that a delta was sent: from now on the client is taken to hold it. */
  commit(delta: Delta): void {
    for (const [name, r] of delta.upserts) this.#known.set(name, r.version);
    for (const name of delta.removes) this.#known.delete(name);
  }

  #apply(subscribe: readonly string[], unsubscribe: readonly string[]): void {
    for (const name of subscribe) {
      if (name === WILDCARD) this.#wildcard = true;
      else this.#names.add(name);
    }
    for (const name of unsubscribe) {
      if (name === WILDCARD) {
        this.#wildcard = false;
        for (const held of this.#known.keys()) if (!this.#names.has(held)) this.#known.delete(held);
      } else {
        this.#names.delete(name);
        if (!this.#wildcard) this.#known.delete(name);
      }
    }
  }
}

export function isEmpty(delta: Delta): boolean {
  return delta.upserts.length === 0 && delta.removes.length === 0;
}
