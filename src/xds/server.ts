// Delta ADS server (envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources)
// serving a ResourceSource to ztunnels, waypoints and Ambit's own clients (spec data-plane.md §4.1).
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { AmbitError } from "../errors.js";
import { type Batch, PushBatcher } from "./batcher.js";
import { type AckEvent, type AdsCall, Connection, type ConnectionHooks, type NackEvent } from "./connection.js";
import type { DeltaDiscoveryRequest } from "./gen/envoy/service/discovery/v3/discovery_pb.js";
import { adsService } from "./grpc.js";
import type { ResourceSource } from "./types.js";

/** Returns the caller's authenticated identity, or throws to refuse the stream. */
export type Authenticate = (metadata: grpc.Metadata) => string | undefined | Promise<string | undefined>;

export interface XdsServerOptions {
  readonly source: ResourceSource;
  /** host:port; port 0 picks a free one. Default 127.0.0.1:0. */
  readonly address?: string;
  /** Default: insecure (tests, local use). */
  readonly credentials?: grpc.ServerCredentials;
  /** Default: allow everyone. */
  readonly authenticate?: Authenticate;
  /** How long change events are collected before a push. Default 5 ms. */
  readonly pushWindowMs?: number;
  /** Upper bound of one response's resource payload; larger deltas are split. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** How many NACKs `nacks` keeps. Default 1000. */
  readonly nackHistory?: number;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly nodeId: string;
  readonly identity: string | undefined;
  readonly typeUrls: readonly string[];
}

export interface XdsServerEvents {
  connect: [ConnectionInfo];
  disconnect: [ConnectionInfo];
  ack: [AckEvent];
  nack: [NackEvent];
  push: [{ readonly typeUrls: readonly string[]; readonly connections: number }];
}

export class XdsServer extends EventEmitter<XdsServerEvents> {
  /** The most recent NACKs, oldest first. */
  readonly nacks: NackEvent[] = [];
  readonly #opts: XdsServerOptions;
  readonly #connections = new Map<string, Connection>();
  readonly #batcher: PushBatcher;
  readonly #hooks: ConnectionHooks;
  #server: grpc.Server | undefined;
  #unsubscribe: (() => void) | undefined;
  #port = 0;
  #connectionCounter = 0;
  #version = 0;

  constructor(opts: XdsServerOptions) {
    super();
    this.#opts = opts;
    this.#batcher = new PushBatcher(opts.pushWindowMs ?? 5, (batch) => this.#push(batch));
    this.#hooks = {
      source: opts.source,
      maxResponseBytes: opts.maxResponseBytes ?? 1 << 20,
      nextVersion: () => String(++this.#version),
      onAck: (ack) => this.emit("ack", ack),
      onNack: (nack) => {
        this.nacks.push(nack);
        if (this.nacks.length > (opts.nackHistory ?? 1000)) this.nacks.shift();
        this.emit("nack", nack);
      },
    };
  }

  get port(): number {
    return this.#port;
  }

  connections(): ConnectionInfo[] {
    return [...this.#connections.values()].map(info);
  }

  async start(): Promise<number> {
    if (this.#server !== undefined) throw new AmbitError("AMBIT_XDS_STATE", "xDS server already started");
    const server = new grpc.Server();
    server.addService(adsService, { deltaAggregatedResources: (call: AdsCall) => void this.#accept(call) });
    const address = this.#opts.address ?? "127.0.0.1:0";
    const creds = this.#opts.credentials ?? grpc.ServerCredentials.createInsecure();
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, creds, (err, port) =>
        err ? reject(new AmbitError("AMBIT_XDS_BIND", `cannot listen on ${address}: ${err.message}`)) : resolve(port),
      ),
    ).catch((err: unknown) => {
      server.forceShutdown();
      throw err;
    });
    this.#server = server;
    this.#unsubscribe = this.#opts.source.subscribe((typeUrl, upserts, removes) =>
      this.#batcher.add(typeUrl, upserts, removes),
    );
    return this.#port;
  }

  /** Closes every stream (clients keep their state and reconnect elsewhere) and stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    this.#unsubscribe?.();
    this.#batcher.close();
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
    server.forceShutdown();
  }

  /** Pushes pending changes now instead of waiting for the window to close. */
  flush(): void {
    this.#batcher.flushNow();
  }

  async #accept(call: AdsCall): Promise<void> {
    let identity: string | undefined;
    try {
      identity = (await this.#opts.authenticate?.(call.metadata)) ?? undefined;
    } catch (err) {
      const details = err instanceof Error ? err.message : "authentication failed";
      call.emit("error", { code: grpc.status.UNAUTHENTICATED, details });
      return;
    }
    if (this.#server === undefined || call.cancelled) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "xDS server stopping" });
      return;
    }
    const id = `c${++this.#connectionCounter}`;
    const conn = new Connection(id, call, this.#hooks, identity);
    this.#connections.set(id, conn);
    // Headers tell the client the stream is up before any resource exists.
    call.sendMetadata(new grpc.Metadata());
    let announced = false;
    const forget = () => {
      if (!this.#connections.delete(id)) return;
      conn.close();
      if (announced) this.emit("disconnect", info(conn));
    };
    call.on("data", (req: DeltaDiscoveryRequest) => {
      conn.handle(req);
      if (!announced) {
        announced = true;
        this.emit("connect", info(conn));
      }
    });
    call.on("end", () => {
      forget();
      call.end();
    });
    call.on("cancelled", forget);
    call.on("error", forget);
  }

  #push(batch: Batch): void {
    for (const c of this.#connections.values()) c.push(batch);
    this.emit("push", { typeUrls: [...batch.keys()], connections: this.#connections.size });
  }
}

function info(c: Connection): ConnectionInfo {
  return { id: c.id, nodeId: c.nodeId, identity: c.identity, typeUrls: c.typeUrls() };
}
