// The filter chain's handles on plugin contexts: one per HTTP request/response pair or per TCP connection.

import { BufferType, MapType, PeerType, StreamType } from "./abi.js";
import type { ContextState } from "./context-state.js";
import type { HeaderMap } from "./header-map.js";
import type { PluginRuntime } from "./runtime.js";
import type { HttpAction, HttpContext, StreamAction, StreamContext } from "./types.js";

const EMPTY = new Uint8Array(0);
const PEERS = { unknown: PeerType.UNKNOWN, local: PeerType.LOCAL, remote: PeerType.REMOTE } as const;

function append(ctx: ContextState, type: number, chunk: Uint8Array): number {
  const held = ctx.buffers[type];
  const next = held === undefined || held.length === 0 ? chunk : Buffer.concat([held, chunk]);
  ctx.buffers[type] = next;
  return next.length;
}

function take(ctx: ContextState, type: number): Uint8Array {
  const held = ctx.buffers[type] ?? EMPTY;
  ctx.buffers[type] = undefined;
  return held;
}

/** Shared end-of-life handling for both context kinds. */
abstract class ContextHandle {
  constructor(
    protected readonly rt: PluginRuntime,
    protected readonly ctx: ContextState,
  ) {}

  get id(): number {
    return this.ctx.id;
  }

  get paused(): boolean {
    return this.ctx.paused;
  }

  get finished(): Promise<void> {
    return this.ctx.done.promise;
  }

  onLog(): void {
    this.rt.notify(this.ctx, "proxy_on_log", this.ctx.id);
  }

  onDone(): boolean {
    return this.rt.done(this.ctx);
  }

  delete(): void {
    this.rt.deleteContext(this.ctx);
  }

  async finish(): Promise<void> {
    if (!this.onDone()) await this.ctx.done.promise;
    this.onLog();
    this.delete();
  }
}

export class HttpContextHandle extends ContextHandle implements HttpContext {
  get resumed(): Promise<HttpAction> {
    return this.ctx.lastWaiter?.promise ?? Promise.resolve("continue");
  }

  get addedRequestTrailers(): HeaderMap | undefined {
    return this.ctx.maps[MapType.HTTP_REQUEST_TRAILERS];
  }

  get addedResponseTrailers(): HeaderMap | undefined {
    return this.ctx.maps[MapType.HTTP_RESPONSE_TRAILERS];
  }

  onRequestHeaders(headers: HeaderMap, endOfStream: boolean): HttpAction {
    this.ctx.maps[MapType.HTTP_REQUEST_HEADERS] = headers;
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_request_headers",
      StreamType.HTTP_REQUEST,
      this.ctx.id,
      headers.length,
      +endOfStream,
    );
  }

  onRequestBody(chunk: Uint8Array, endOfStream: boolean): HttpAction {
    const size = append(this.ctx, BufferType.HTTP_REQUEST_BODY, chunk);
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_request_body",
      StreamType.HTTP_REQUEST,
      this.ctx.id,
      size,
      +endOfStream,
    );
  }

  onRequestTrailers(trailers: HeaderMap): HttpAction {
    this.ctx.maps[MapType.HTTP_REQUEST_TRAILERS] = trailers;
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_request_trailers",
      StreamType.HTTP_REQUEST,
      this.ctx.id,
      trailers.length,
    );
  }

  onResponseHeaders(headers: HeaderMap, endOfStream: boolean): HttpAction {
    this.ctx.maps[MapType.HTTP_RESPONSE_HEADERS] = headers;
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_response_headers",
      StreamType.HTTP_RESPONSE,
      this.ctx.id,
      headers.length,
      +endOfStream,
    );
  }

  onResponseBody(chunk: Uint8Array, endOfStream: boolean): HttpAction {
    const size = append(this.ctx, BufferType.HTTP_RESPONSE_BODY, chunk);
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_response_body",
      StreamType.HTTP_RESPONSE,
      this.ctx.id,
      size,
      +endOfStream,
    );
  }

  onResponseTrailers(trailers: HeaderMap): HttpAction {
    this.ctx.maps[MapType.HTTP_RESPONSE_TRAILERS] = trailers;
    return this.rt.streamCallback(
      this.ctx,
      "proxy_on_response_trailers",
      StreamType.HTTP_RESPONSE,
      this.ctx.id,
      trailers.length,
    );
  }

  takeRequestBody(): Uint8Array {
    return take(this.ctx, BufferType.HTTP_REQUEST_BODY);
  }

  takeResponseBody(): Uint8Array {
    return take(this.ctx, BufferType.HTTP_RESPONSE_BODY);
  }
}

/** NETWORK callbacks never produce a local response; the runtime's fail action for them is "close". */
function streamAction(a: HttpAction): StreamAction {
  return typeof a === "string" ? a : "close";
}

export class StreamContextHandle extends ContextHandle implements StreamContext {
  get resumed(): Promise<StreamAction> {
    return (this.ctx.lastWaiter?.promise ?? Promise.resolve("continue" as const)).then(streamAction);
  }

  onNewConnection(): StreamAction {
    return streamAction(
      this.rt.streamCallback(this.ctx, "proxy_on_new_connection", StreamType.DOWNSTREAM, this.ctx.id),
    );
  }

  onDownstreamData(chunk: Uint8Array, endOfStream: boolean): StreamAction {
    const size = append(this.ctx, BufferType.DOWNSTREAM_DATA, chunk);
    return streamAction(
      this.rt.streamCallback(
        this.ctx,
        "proxy_on_downstream_data",
        StreamType.DOWNSTREAM,
        this.ctx.id,
        size,
        +endOfStream,
      ),
    );
  }

  onUpstreamData(chunk: Uint8Array, endOfStream: boolean): StreamAction {
    const size = append(this.ctx, BufferType.UPSTREAM_DATA, chunk);
    return streamAction(
      this.rt.streamCallback(this.ctx, "proxy_on_upstream_data", StreamType.UPSTREAM, this.ctx.id, size, +endOfStream),
    );
  }

  onDownstreamClose(peer: keyof typeof PEERS = "remote"): void {
    this.rt.notify(this.ctx, "proxy_on_downstream_connection_close", this.ctx.id, PEERS[peer]);
  }

  onUpstreamClose(peer: keyof typeof PEERS = "remote"): void {
    this.rt.notify(this.ctx, "proxy_on_upstream_connection_close", this.ctx.id, PEERS[peer]);
  }

  takeDownstreamData(): Uint8Array {
    return take(this.ctx, BufferType.DOWNSTREAM_DATA);
  }

  takeUpstreamData(): Uint8Array {
    return take(this.ctx, BufferType.UPSTREAM_DATA);
  }
}
