// Shared key-value data and shared queues: host-wide state that plugins in the same VM id share
// (Envoy keys both by vm_id, so plugins of different VMs never see each other's data).

import { Status } from "./abi.js";

export class SharedData {
  private readonly entries = new Map<string, { value: Uint8Array; cas: number }>();
  private nextCas = 1;

  get(vmId: string, key: string): { value: Uint8Array; cas: number } | undefined {
    return this.entries.get(`${vmId}\0${key}`);
  }

  /** A non-zero cas must equal the entry's current cas; cas 0 always writes. */
  set(vmId: string, key: string, value: Uint8Array, cas: number): number {
    const k = `${vmId}\0${key}`;
    const entry = this.entries.get(k);
    if (entry !== undefined && cas !== 0 && cas !== entry.cas) return Status.CAS_MISMATCH;
    this.entries.set(k, { value: Uint8Array.from(value), cas: this.nextCas++ });
    if (this.nextCas > 0xffffffff) this.nextCas = 1;
    return Status.OK;
  }
}

interface Queue {
  items: Uint8Array[];
  /** Called (asynchronously) when an item arrives: the registering plugin's proxy_on_queue_ready. */
  notify: (queueId: number) => void;
}

export class SharedQueues {
  private readonly queues = new Map<number, Queue>();
  private readonly names = new Map<string, number>();
  private nextId = 1;

  register(vmId: string, name: string, notify: (queueId: number) => void): number {
    const k = `${vmId}\0${name}`;
    const existing = this.names.get(k);
    if (existing !== undefined) {
      this.queues.get(existing)!.notify = notify;
      return existing;
    }
    const id = this.nextId++;
    this.names.set(k, id);
    this.queues.set(id, { items: [], notify });
    return id;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.names.get(`${vmId}\0${name}`);
  }

  enqueue(id: number, value: Uint8Array): number {
    const q = this.queues.get(id);
    if (q === undefined) return Status.NOT_FOUND;
    q.items.push(Uint8Array.from(value));
    setImmediate(() => q.notify(id));
    return Status.OK;
  }

  dequeue(id: number): Uint8Array | number {
    const q = this.queues.get(id);
    if (q === undefined) return Status.NOT_FOUND;
    return q.items.shift() ?? Status.EMPTY;
  }

  /** Detaches a closed plugin so enqueues stop calling into it. */
  forget(notify: (queueId: number) => void): void {
    for (const q of this.queues.values()) if (q.notify === notify) q.notify = () => {};
  }
}
