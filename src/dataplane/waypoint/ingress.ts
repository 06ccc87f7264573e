// HTTP inside tunnels: the tunnel stream is handed to a Node http.Server (HTTP/1.1) or http2 server (h2c, gRPC)
// with `emit("connection", stream)`, so Node's own parsers do the framing. Each request becomes a
// RequestContext and runs the filter chain.

import { randomUUID } from "node:crypto";
import { createServer as createH1Server, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  createServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import type { Duplex } from "node:stream";
import { formatAuthority } from "../hbone/headers.js";
import type { TunnelInfo } from "../hbone/server.js";
import { type Filter, runChain } from "./chain.js";
import type { Downstream, RequestContext } from "./context.js";
import { first, type Headers } from "./headers.js";
import { sendLocalReply } from "./local-reply.js";
import { socketLike } from "./socket-like.js";
import type { WaypointState } from "./state.js";
import { continueTrace } from "./tracing.js";

export interface IngressOptions {
  state: () => WaypointState | undefined;
  chain: () => readonly Filter[];
}

// Envoy's default downstream idle timeout (1 h): keep-alive tunnels stay open while the source uses them.
const IDLE_TIMEOUT_MS = 3_600_000;

export class HttpIngress {
  readonly #h1: Server;
  readonly #h2: Http2Server;
  readonly #tunnels = new WeakMap<object, TunnelInfo>();
  readonly #h2Sessions = new Set<ServerHttp2Session>();
  /** HTTP/1.1 tunnels and their requests in flight: Node tracks connections only for servers that listen. */
  readonly #h1Tunnels = new Map<Duplex, number>();
  /** HTTP/1.1 answers not started yet: told to close their connection when a drain begins. */
  readonly #h1Pending = new Set<ServerResponse>();
  #draining = false;
  #incoming: TunnelInfo | undefined;
  #active = 0;

  constructor(private readonly opts: IngressOptions) {
    this.#h1 = createH1Server({ keepAliveTimeout: IDLE_TIMEOUT_MS }, (req, res) => {
      const tunnel = this.#tunnels.get(req.socket);
      if (tunnel) this.#handle(tunnel, { version: "HTTP/1.1", req, res });
      else res.destroy();
    });
    this.#h1.keepAliveTimeout = IDLE_TIMEOUT_MS;
    this.#h1.on("clientError", (_err, socket: Duplex) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    });
    this.#h2 = createH2Server({}, (req, res) => {
      const tunnel = this.#tunnels.get(req.stream.session as object);
      if (tunnel) this.#handle(tunnel, { version: "HTTP/2", req, res });
      else res.stream.close();
    });
    this.#h2.on("session", (s: ServerHttp2Session) => {
      if (!this.#incoming) return;
      this.#tunnels.set(s, this.#incoming);
      this.#h2Sessions.add(s);
      s.on("error", () => {});
      s.once("close", () => this.#h2Sessions.delete(s));
    });
    this.#h2.on("sessionError", () => {});
  }

  /** Requests currently in the chain or being answered. */
  get active(): number {
    return this.#active;
  }

  accept(stream: Duplex, tunnel: TunnelInfo, kind: "http1" | "h2c"): void {
    const s = socketLike(stream);
    if (kind === "http1") {
      this.#tunnels.set(s, tunnel);
      this.#h1Tunnels.set(s, 0);
      s.once("close", () => this.#h1Tunnels.delete(s));
      this.#h1.emit("connection", s);
      return;
    }
    this.#incoming = tunnel;
    this.#h2.emit("connection", s);
    this.#incoming = undefined;
  }

  /** Drain: idle HTTP/1.1 tunnels are closed, HTTP/2 sessions get GOAWAY; requests in flight finish. */
  closeIdle(): void {
    this.#draining = true;
    for (const res of this.#h1Pending) if (!res.headersSent) res.shouldKeepAlive = false;
    for (const [s, active] of this.#h1Tunnels) if (active === 0 && !s.writableEnded) s.end();
    for (const s of this.#h2Sessions) if (!s.closed) s.close();
  }

  closeAll(): void {
    for (const s of this.#h1Tunnels.keys()) s.destroy();
    for (const s of this.#h2Sessions) s.destroy();
  }

  #handle(tunnel: TunnelInfo, downstream: Downstream): void {
    const state = this.opts.state();
    const req = downstream.req as IncomingMessage | Http2ServerRequest;
    const headers = { ...req.headers } as Headers;
    const authority = first(headers, ":authority") ?? first(headers, "host") ?? formatAuthority(tunnel.target);
    const destination = state?.resolve(tunnel.target, authority);
    const settings = destination?.kind === "service" ? destination.service.telemetry : state?.defaultTelemetry;
    const trace = continueTrace(first(headers, "traceparent"), settings?.samplingPercent ?? 0);
    headers["x-request-id"] ??= randomUUID();
    const contentType = first(headers, "content-type") ?? "";
    const chain = this.opts.chain();
    const ctx: RequestContext = {
      tunnel,
      state: state!,
      destination: destination!,
      downstream,
      chain,
      grpc: downstream.version === "HTTP/2" && contentType.startsWith("application/grpc"),
      method: req.method ?? "GET",
      path: req.url ?? "/",
      authority,
      headers,
      jwt: null,
      startedAt: Date.now(),
      startNs: process.hrtime.bigint(),
      traceparent: trace.traceparent,
      sampled: trace.sampled,
      responseCode: 0,
      flags: [],
      details: "via_upstream",
      grpcStatus: undefined,
      endpoint: undefined,
      cluster: undefined,
      routeName: undefined,
      requestBytes: 0,
      responseBytes: 0,
    };
    if (!state || !destination) {
      sendLocalReply(ctx, { status: 404, body: "", details: "route_not_found", flags: ["NR"] });
      return;
    }
    this.#active++;
    const socket = downstream.version === "HTTP/1.1" ? downstream.req.socket : undefined;
    if (downstream.version === "HTTP/1.1" && socket) {
      this.#h1Tunnels.set(socket, (this.#h1Tunnels.get(socket) ?? 0) + 1);
      // While draining, each answer closes its HTTP/1.1 connection so the tunnel can end.
      if (this.#draining) downstream.res.shouldKeepAlive = false;
      else this.#h1Pending.add(downstream.res);
    }
    (downstream.res as ServerResponse | Http2ServerResponse).once("close", () => {
      this.#active--;
      if (downstream.version === "HTTP/1.1") this.#h1Pending.delete(downstream.res);
      if (socket && this.#h1Tunnels.has(socket)) this.#h1Tunnels.set(socket, this.#h1Tunnels.get(socket)! - 1);
      for (const f of chain) f.onDone?.(ctx);
    });
    runChain(chain, ctx).catch((e: unknown) => {
      sendLocalReply(ctx, { status: 500, body: "internal error", details: `filter_error{${(e as Error).message}}` });
    });
  }
}
