// Open connections of every pod proxy: what `config_dump` lists, what drain waits for, and what is re-authorized
// when policies change (ztunnel's connection manager, data-plane.md §5 "Live enforcement").

export interface TrackedConnection {
  id: number;
  workloadUid: string;
  direction: "inbound" | "outbound";
  /** `ip:port` of our end towards the remote (the app for outbound, the peer for inbound). */
  local: string;
  remote: string;
  /** The HBONE `:authority` or the plain destination. */
  remoteTarget: string;
  protocol: "HBONE" | "TCP";
  openedAt: number;
  /** Inbound only: false when the current policies would now refuse this connection. */
  stillAllowed?: () => boolean;
  /** Cuts the connection now (policy change, drain deadline). */
  close(reason: string): void;
}

export class ConnectionTracker {
  readonly #open = new Map<number, TrackedConnection>();
  readonly #waiters = new Set<() => void>();
  #next = 1;

  add(c: Omit<TrackedConnection, "id">): TrackedConnection {
    const tracked = { ...c, id: this.#next++ };
    this.#open.set(tracked.id, tracked);
    return tracked;
  }

  remove(c: TrackedConnection): void {
    if (!this.#open.delete(c.id) || this.#open.size > 0) return;
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  get size(): number {
    return this.#open.size;
  }

  list(): TrackedConnection[] {
    return [...this.#open.values()];
  }

  /** Re-asks every inbound connection's authorization; those now denied are closed. Returns how many. */
  reauthorize(): number {
    let closed = 0;
    for (const c of this.#open.values()) {
      if (c.stillAllowed && !c.stillAllowed()) {
        c.close("connection closed due to policy change");
        closed++;
      }
    }
    return closed;
  }

  closeWhere(pred: (c: TrackedConnection) => boolean, reason: string): void {
    for (const c of [...this.#open.values()]) if (pred(c)) c.close(reason);
  }

  /** Resolves when no connection is open, or after `timeoutMs` (then false). */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(done);
    });
  }
}
