// Delta ADS client: keeps a local copy of the resources the control plane pushes, ACKs what it
// applies, NACKs what fails validation (keeping the last good state), and reconnects with backoff,
// telling the server what it holds so only changes are resent (spec data-plane.md §4.1, §(b) 10).
import { EventEmitter } from "node:events";
import { create, type JsonObject } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { AmbitError } from "../errors.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { NodeSchema } from "./gen/envoy/config/core/v3/base_pb.js";
import {
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { StatusSchema } from "./gen/google/rpc/status_pb.js";
import { AdsClient, type AdsClientStream } from "./grpc.js";
import { validateResource } from "./resources.js";
import type { VersionedResource } from "./types.js";

export type Validate = (typeUrl: string, name: string, resource: Any) => void;

export interface XdsClientOptions {
  /** host:port of the xDS server. */
  readonly address: string;
  readonly typeUrls: readonly string[];
  readonly node: { readonly id: string; readonly cluster?: string; readonly metadata?: JsonObject };
  /** Default: insecure. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Sent on every stream, e.g. `{ authorization: "Bearer …" }`. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Throws to reject a resource; the whole response is then NACKed. Default: validateResource. */
  readonly validate?: Validate;
  readonly backoff?: BackoffOptions;
}

export interface UpdateEvent {
  readonly typeUrl: string;
  readonly upserted: readonly string[];
  readonly removed: readonly string[];
}

export interface XdsClientEvents {
  connected: [];
  disconnected: [Error];
  update: [UpdateEvent];
  nack: [{ readonly typeUrl: string; readonly nonce: string; readonly message: string }];
  /** Once, when every type has been answered at least once: the data plane may start serving. */
  synced: [];
}

const INVALID_ARGUMENT = 3;

export class XdsClient extends EventEmitter<XdsClientEvents> {
  readonly #opts: XdsClientOptions;
  readonly #state = new Map<string, Map<string, VersionedResource>>();
  readonly #backoff: Backoff;
  readonly #validate: Validate;
  #grpc: AdsClient | undefined;
  #stream: AdsClientStream | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #answered = new Set<string>();
  #connected = false;
  #running = false;

  constructor(opts: XdsClientOptions) {
    super();
    this.#opts = opts;
    this.#backoff = new Backoff(opts.backoff);
    this.#validate = opts.validate ?? validateResource;
    for (const t of opts.typeUrls) this.#state.set(t, new Map());
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** True once every type has been answered at least once (and stays true across reconnects). */
  get synced(): boolean {
    return this.#answered.size === this.#opts.typeUrls.length;
  }

  /** The last good state of one type; kept while disconnected. */
  resources(typeUrl: string): ReadonlyMap<string, VersionedResource> {
    return this.#state.get(typeUrl) ?? new Map();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#grpc = new AdsClient(this.#opts.address, this.#opts.credentials ?? grpc.credentials.createInsecure(), {
      // A full Address sync of a large mesh exceeds gRPC's 4 MiB default.
      "grpc.max_receive_message_length": -1,
    });
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.cancel();
    this.#grpc?.close();
    this.#grpc = undefined;
    this.#setDisconnected(new AmbitError("AMBIT_XDS_STOPPED", "client stopped"));
  }

  #connect(): void {
    if (!this.#running || this.#grpc === undefined) return;
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.#opts.metadata ?? {})) metadata.set(k, v);
    const method = (this.#grpc as unknown as Record<string, (m: grpc.Metadata) => AdsClientStream>)
      .deltaAggregatedResources!;
    const stream = method.call(this.#grpc, metadata);
    this.#stream = stream;
    let ended = false;
    const onEnd = (err: Error) => {
      if (ended) return;
      ended = true;
      if (this.#stream === stream) this.#stream = undefined;
      this.#setDisconnected(err);
      this.#scheduleReconnect();
    };
    stream.on("metadata", () => this.#setConnected());
    stream.on("data", (res: DeltaDiscoveryResponse) => {
      this.#setConnected();
      this.#receive(stream, res);
    });
    stream.on("error", (err) => onEnd(err));
    stream.on("end", () => onEnd(new AmbitError("AMBIT_XDS_STREAM_ENDED", "xDS stream ended by the server")));
    const node = create(NodeSchema, {
      id: this.#opts.node.id,
      cluster: this.#opts.node.cluster ?? "",
      metadata: this.#opts.node.metadata,
      userAgentName: "ambit",
    });
    for (const typeUrl of this.#opts.typeUrls) {
      const initialResourceVersions: Record<string, string> = {};
      for (const [name, r] of this.resources(typeUrl)) initialResourceVersions[name] = r.version;
      // An empty subscribe list is the wildcard subscription ztunnel uses.
      stream.write(create(DeltaDiscoveryRequestSchema, { node, typeUrl, initialResourceVersions }));
    }
  }

  #receive(stream: AdsClientStream, res: DeltaDiscoveryResponse): void {
    const { typeUrl, nonce } = res;
    const table = this.#state.get(typeUrl);
    const problem = table === undefined ? `not subscribed to ${typeUrl}` : this.#check(res);
    if (problem !== undefined || table === undefined) {
      const message = problem ?? "";
      stream.write(
        create(DeltaDiscoveryRequestSchema, {
          typeUrl,
          responseNonce: nonce,
          errorDetail: create(StatusSchema, { code: INVALID_ARGUMENT, message }),
        }),
      );
      this.emit("nack", { typeUrl, nonce, message });
      return;
    }
    const upserted: string[] = [];
    for (const r of res.resources) {
      if (r.resource === undefined) continue;
      table.set(r.name, { version: r.version, resource: r.resource });
      upserted.push(r.name);
    }
    const removed = res.removedResources.filter((name) => table.delete(name));
    stream.write(create(DeltaDiscoveryRequestSchema, { typeUrl, responseNonce: nonce }));
    this.emit("update", { typeUrl, upserted, removed });
    if (!this.#answered.has(typeUrl)) {
      this.#answered.add(typeUrl);
      if (this.synced) this.emit("synced");
    }
  }

  /** Returns why the response is rejected, or undefined if every resource passes. */
  #check(res: DeltaDiscoveryResponse): string | undefined {
    for (const r of res.resources) {
      // A resource without a body is a TTL heartbeat; there is nothing to validate or apply.
      if (r.resource === undefined) continue;
      try {
        if (r.resource.typeUrl !== res.typeUrl) {
          throw new AmbitError("AMBIT_XDS_TYPE_MISMATCH", `resource is ${r.resource.typeUrl}`);
        }
        this.#validate(res.typeUrl, r.name, r.resource);
      } catch (err) {
        return `${r.name}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return undefined;
  }

  #setConnected(): void {
    if (this.#connected) return;
    this.#connected = true;
    this.#backoff.reset();
    this.emit("connected");
  }

  #setDisconnected(err: Error): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.emit("disconnected", err);
  }

  #scheduleReconnect(): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), this.#backoff.next());
  }
}
