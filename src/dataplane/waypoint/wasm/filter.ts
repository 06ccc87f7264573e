// One WasmPlugin as a filter of the waypoint's chain, at its phase: for each request it covers (Service targeting,
// match), a proxy-wasm HTTP context on the slot's current VM runs the request-header callback (pausing while the
// plugin waits, e.g. on proxy_http_call), may answer with the plugin's local response, runs the body callbacks on
// both bodies, edits the response headers on the way back, and ends with on_done/on_log/on_delete. The context
// stays on the VM it started on, so a hot swap never moves a request between VMs. A body callback the module does
// not export is not hooked: that body streams past the plugin as it is, keeping its content-length.

import type { Readable } from "node:stream";
import type { HttpAction, HttpContext, PropertyBag } from "../../wasm/index.js";
import type { ExtensionFilter, FilterResult } from "../chain.js";
import type { RequestContext } from "../context.js";
import type { Headers } from "../headers.js";
import { type LocalReply, sendLocalReply } from "../local-reply.js";
import { PluginBody } from "./body.js";
import {
  applyRequestHeaderMap,
  applyResponseHeaderMap,
  headerRecord,
  requestHeaderMap,
  responseHeaderMap,
  type SentHeaders,
} from "./headers.js";
import type { LoadedVersion, PluginSlot } from "./slot.js";
import { covers, type WasmPluginSpec } from "./spec.js";

/** FAIL_CLOSE answer for a plugin that could not be loaded (the host answers the same for a trapped VM). */
const UNAVAILABLE: LocalReply = { status: 500, body: "", details: "wasm_fail_stream" };

interface Stream {
  http: HttpContext;
  version: LoadedVersion;
  /** The request headers ended the stream: no request body callbacks. */
  headersOnly: boolean;
  /** Whether each body goes through the plugin's body callbacks (decided with its headers). */
  requestBody: boolean;
  responseBody: boolean;
}

type Stop = Exclude<HttpAction, "continue" | "pause">;

function reset(ctx: RequestContext): void {
  const d = ctx.downstream;
  if (d.version === "HTTP/2") d.res.stream.close(0x2);
  else d.res.destroy();
}

function localReply(r: Extract<HttpAction, { localResponse: unknown }>["localResponse"]): LocalReply {
  return {
    status: r.status,
    body: Buffer.from(r.body).toString("utf8"),
    details: r.details || "wasm_local_response",
    headers: headerRecord(r.headers),
  };
}

function attributes(ctx: RequestContext): PropertyBag {
  const target = ctx.tunnel.target;
  return {
    "source.address": ctx.tunnel.remoteAddress,
    "source.port": ctx.tunnel.remotePort,
    "destination.address": target.host,
    "destination.port": target.port,
    "connection.mtls": true,
    "source.principal": ctx.tunnel.peer,
    "connection.uri_san_peer_certificate": ctx.tunnel.peer,
    "request.protocol": ctx.downstream.version,
  };
}

/** Whether the request headers end the stream (no body follows), as Envoy tells decodeHeaders. */
function headersEndStream(ctx: RequestContext): boolean {
  const d = ctx.downstream;
  if (d.version === "HTTP/2") return d.req.stream.endAfterHeaders;
  const h = d.req.headers;
  return h["transfer-encoding"] === undefined && (h["content-length"] === undefined || h["content-length"] === "0");
}

/**
 * Whether a body goes through the plugin: when the module exports the callback, or when its VM has failed (the
 * host then answers the next callback with the failStrategy's action, exported or not).
 */
function bodyCallbacks(s: Stream, exported: boolean): boolean {
  return exported || s.version.plugin.failed !== undefined;
}

export class WasmFilter implements ExtensionFilter {
  readonly name: string;
  readonly phase: WasmPluginSpec["phase"];
  readonly #streams = new WeakMap<RequestContext, Stream>();

  constructor(
    readonly spec: WasmPluginSpec,
    private readonly slot: PluginSlot,
  ) {
    this.name = `wasm:${spec.key}`;
    this.phase = spec.phase;
  }

  onRequest(ctx: RequestContext): FilterResult | Promise<FilterResult> {
    if (this.spec.type !== "HTTP" || !covers(this.spec, ctx.destination)) return undefined;
    const state = this.slot.state;
    if (state === undefined || state.kind === "failed")
      return state?.failStrategy === "FAIL_OPEN" ? undefined : UNAVAILABLE;
    const version = state.version;
    // A request of an older chain reaching a plugin that has since left the config.
    if (version.closed) return undefined;
    version.acquire();
    let http: HttpContext;
    try {
      http = version.plugin.newHttpContext(attributes(ctx));
    } catch {
      version.release();
      return version.plugin.failStrategy === "FAIL_OPEN" ? undefined : UNAVAILABLE;
    }
    const headersOnly = headersEndStream(ctx);
    this.#streams.set(ctx, { http, version, headersOnly, requestBody: false, responseBody: false });
    const map = requestHeaderMap(ctx);
    const action = http.onRequestHeaders(map.map, headersOnly);
    if (action !== "pause") return this.#outcome(ctx, action, map);
    // Paused (an http call, a timer): wait for the plugin to resume, or for the client to leave.
    const gone = new Promise<HttpAction>((r) => ctx.downstream.res.once("close", () => r("close")));
    return Promise.race([http.resumed, gone]).then((a) => this.#outcome(ctx, a, map));
  }

  #outcome(ctx: RequestContext, action: HttpAction, map: SentHeaders): FilterResult {
    if (action === "continue" || action === "pause") {
      applyRequestHeaderMap(ctx, map);
      const s = this.#streams.get(ctx);
      if (s && !s.headersOnly && bodyCallbacks(s, s.version.callbacks.requestBody)) {
        s.requestBody = true;
        // Body callbacks may resize the body: it goes upstream without a length (chunked).
        delete ctx.headers["content-length"];
      }
      return undefined;
    }
    if (action === "close") {
      // The plugin reset the stream: no answer, as Envoy's stream reset.
      ctx.details = "wasm_close_stream";
      reset(ctx);
      return "handled";
    }
    return localReply(action.localResponse);
  }

  requestBody(ctx: RequestContext, body: Readable): Readable {
    const s = this.#streams.get(ctx);
    if (!s?.requestBody) return body;
    const out = new PluginBody({
      onBody: (chunk, end) => s.http.onRequestBody(chunk, end),
      take: () => s.http.takeRequestBody(),
      resumed: () => s.http.resumed,
      onStop: (a: Stop) => {
        if (a === "close" || ctx.downstream.res.headersSent) reset(ctx);
        else sendLocalReply(ctx, localReply(a.localResponse));
      },
    });
    // The router listens once it has attached the body; errors before that must not go unheard.
    out.on("error", () => {});
    return body.pipe(out);
  }

  responseBody(ctx: RequestContext, body: Readable): Readable {
    const s = this.#streams.get(ctx);
    if (!s?.responseBody) return body;
    // The response has started: a local response or close can only cut it (the router resets on the error).
    const out = new PluginBody({
      onBody: (chunk, end) => s.http.onResponseBody(chunk, end),
      take: () => s.http.takeResponseBody(),
      resumed: () => s.http.resumed,
      onStop: () => {
        ctx.details = "wasm_response_body_stopped";
      },
    });
    out.on("error", () => {});
    return body.pipe(out);
  }

  onResponseHeaders(ctx: RequestContext, status: number, headers: Headers): void {
    const s = this.#streams.get(ctx);
    if (!s) return;
    const map = responseHeaderMap(status, headers);
    // Response-side local responses and pauses cannot change an answer whose status is already chosen; header
    // edits are applied whatever the plugin returns.
    s.http.onResponseHeaders(map.map, false);
    applyResponseHeaderMap(headers, map);
    if (!bodyCallbacks(s, s.version.callbacks.responseBody)) return;
    s.responseBody = true;
    // Body callbacks follow and may resize the body: it goes out without a length (chunked).
    if (ctx.method !== "HEAD" && status !== 204 && status !== 304) delete headers["content-length"];
  }

  onDone(ctx: RequestContext): void {
    const s = this.#streams.get(ctx);
    if (!s) return;
    this.#streams.delete(ctx);
    const { http, version } = s;
    // The ABI's end of stream (done, log, delete), without a promise unless the plugin finishes later.
    if (!http.onDone()) {
      http.finished.finally(() => {
        http.onLog();
        http.delete();
        version.release();
      });
      return;
    }
    http.onLog();
    http.delete();
    version.release();
  }
}
