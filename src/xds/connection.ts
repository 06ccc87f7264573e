// One client's delta ADS stream on the server: its subscriptions, the nonces awaiting ACK, and an
// ordered, backpressure-aware writer. The server owns the connections and fans pushes out to them.
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { Batch } from "./batcher.js";
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  ResourceSchema,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { type Delta, isEmpty, Subscription } from "./subscription.js";
import type { ResourceSource } from "./types.js";

export type AdsCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export interface AckEvent {
  readonly connectionId: string;
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly nonce: string;
}

export interface NackEvent extends AckEvent {
  readonly code: number;
  readonly message: string;
  /** The resources of the rejected response, at the versions that were rejected. */
  readonly resources: readonly { name: string; version: string }[];
  readonly at: Date;
}

export interface ConnectionHooks {
  readonly source: ResourceSource;
  readonly maxResponseBytes: number;
  nextVersion(): string;
  onAck(ack: AckEvent): void;
  onNack(nack: NackEvent): void;
}

interface Sent {
  readonly typeUrl: string;
  readonly resources: { name: string; version: string }[];
}

// Unanswered nonces kept per connection; a client that never ACKs must not grow the server without bound.
const MAX_PENDING_NONCES = 1024;
// Per-resource framing overhead when estimating a response's size (tags, lengths, version string).
const RESOURCE_OVERHEAD_BYTES = 64;

export class Connection {
  readonly id: string;
  readonly identity: string | undefined;
  #nodeId = "";
  readonly #call: AdsCall;
  readonly #hooks: ConnectionHooks;
  readonly #subs = new Map<string, Subscription>();
  readonly #pending = new Map<string, Sent>();
  readonly #queue: DeltaDiscoveryResponse[] = [];
  #nonceCounter = 0;
  #waitingDrain = false;
  #closed = false;

  constructor(id: string, call: AdsCall, hooks: ConnectionHooks, identity: string | undefined) {
    this.id = id;
    this.#call = call;
    this.#hooks = hooks;
    this.identity = identity;
  }

  /** The Node id the client announced (or the authenticated identity if it announced none). */
  get nodeId(): string {
    return this.#nodeId || this.identity || "";
  }

  typeUrls(): string[] {
    return [...this.#subs.keys()];
  }

  subscription(typeUrl: string): Subscription | undefined {
    return this.#subs.get(typeUrl);
  }

  handle(req: DeltaDiscoveryRequest): void {
    if (this.#closed) return;
    if (req.node?.id && this.#nodeId === "") this.#nodeId = req.node.id;
    const typeUrl = req.typeUrl;
    if (req.responseNonce !== "") this.#acknowledge(req);
    // Envoy's xdstp:// locator subscriptions (the only requests without a type) are not served.
    if (typeUrl === "") return;
    let sub = this.#subs.get(typeUrl);
    if (sub === undefined) {
      sub = new Subscription();
      this.#subs.set(typeUrl, sub);
      sub.open(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, req.initialResourceVersions);
      this.#send(typeUrl, sub, sub.diffSnapshot(this.#hooks.source.snapshot(typeUrl)), true);
      return;
    }
    if (req.resourceNamesSubscribe.length === 0 && req.resourceNamesUnsubscribe.length === 0) return;
    const { wildcardAdded, added } = sub.change(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe);
    const snapshot = this.#hooks.source.snapshot(typeUrl);
    if (wildcardAdded) this.#send(typeUrl, sub, sub.diffSnapshot(snapshot), false);
    if (added.length > 0) this.#send(typeUrl, sub, sub.answerNames(added, snapshot), false);
  }

  push(batch: Batch): void {
    if (this.#closed) return;
    for (const [typeUrl, changes] of batch) {
      const sub = this.#subs.get(typeUrl);
      if (sub !== undefined) this.#send(typeUrl, sub, sub.diffEvents(changes.upserts, changes.removes), false);
    }
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }

  #acknowledge(req: DeltaDiscoveryRequest): void {
    const sent = this.#pending.get(req.responseNonce);
    // A stale or unknown nonce still tells us the client is alive, but there is nothing to record.
    if (sent === undefined) return;
    this.#pending.delete(req.responseNonce);
    const base = { connectionId: this.id, nodeId: this.nodeId, typeUrl: sent.typeUrl, nonce: req.responseNonce };
    if (req.errorDetail === undefined) {
      this.#hooks.onAck(base);
      return;
    }
    // The rejected versions stay recorded as held, so the same version is never pushed again to this client.
    this.#hooks.onNack({
      ...base,
      code: req.errorDetail.code,
      message: req.errorDetail.message,
      resources: sent.resources,
      at: new Date(),
    });
  }

  /** Sends a delta, split into responses of bounded size. The first answer of a type is sent even if empty. */
  #send(typeUrl: string, sub: Subscription, delta: Delta, evenIfEmpty: boolean): void {
    if (isEmpty(delta) && !evenIfEmpty) return;
    sub.commit(delta);
    const version = this.#hooks.nextVersion();
    let chunk: Delta = { upserts: [], removes: delta.removes };
    let bytes = 0;
    for (const entry of delta.upserts) {
      const size = entry[1].resource.value.length + entry[0].length + RESOURCE_OVERHEAD_BYTES;
      if (chunk.upserts.length > 0 && bytes + size > this.#hooks.maxResponseBytes) {
        this.#enqueue(typeUrl, chunk, version);
        chunk = { upserts: [], removes: [] };
        bytes = 0;
      }
      chunk.upserts.push(entry);
      bytes += size;
    }
    this.#enqueue(typeUrl, chunk, version);
  }

  #enqueue(typeUrl: string, delta: Delta, systemVersionInfo: string): void {
    const nonce = `${this.id}-${++this.#nonceCounter}`;
    const resources = delta.upserts.map(([name, r]) =>
      create(ResourceSchema, { name, version: r.version, resource: r.resource }),
    );
    this.#remember(nonce, {
      typeUrl,
      resources: delta.upserts.map(([name, r]) => ({ name, version: r.version })),
    });
    this.#queue.push(
      create(DeltaDiscoveryResponseSchema, {
        systemVersionInfo,
        typeUrl,
        nonce,
        resources,
        removedResources: delta.removes,
      }),
    );
    this.#drain();
  }

  #remember(nonce: string, sent: Sent): void {
    this.#pending.set(nonce, sent);
    if (this.#pending.size > MAX_PENDING_NONCES) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
  }

  #drain(): void {
    while (!this.#waitingDrain && !this.#closed && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      if (!this.#call.write(next)) {
        this.#waitingDrain = true;
        this.#call.once("drain", () => {
          this.#waitingDrain = false;
          this.#drain();
        });
      }
    }
  }
}
