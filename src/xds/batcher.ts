// Collects change events for a short window so a burst (a Deployment rolling, a namespace relabelled)
// becomes one push per client. The window opens at the first event and is not extended, which bounds
// push latency by the window.
import type { VersionedResource } from "./types.js";

export interface PendingChanges {
  readonly upserts: Map<string, VersionedResource>;
  readonly removes: Set<string>;
}

export type Batch = ReadonlyMap<string, PendingChanges>;

export class PushBatcher {
  #pending = new Map<string, PendingChanges>();
  #cancel: (() => void) | undefined;
  readonly #windowMs: number;
  readonly #flush: (batch: Batch) => void;

  constructor(windowMs: number, flush: (batch: Batch) => void) {
    this.#windowMs = windowMs;
    this.#flush = flush;
  }

  add(typeUrl: string, upserts: ReadonlyMap<string, VersionedResource>, removes: readonly string[]): void {
    let p = this.#pending.get(typeUrl);
    if (p === undefined) {
      p = { upserts: new Map(), removes: new Set() };
      this.#pending.set(typeUrl, p);
    }
    // Later events win: an upsert cancels an earlier removal of the same name and vice versa.
    for (const [name, r] of upserts) {
      p.removes.delete(name);
      p.upserts.set(name, r);
    }
    for (const name of removes) {
      p.upserts.delete(name);
      p.removes.add(name);
    }
    this.#cancel ??= this.#schedule();
  }

  // A zero window still batches what one synchronous burst emits; setImmediate avoids setTimeout's 1 ms floor.
  #schedule(): () => void {
    if (this.#windowMs <= 0) {
      const immediate = setImmediate(() => this.flushNow());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.flushNow(), this.#windowMs);
    return () => clearTimeout(timer);
  }

  flushNow(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flush(batch);
  }

  close(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#pending = new Map();
  }
}
