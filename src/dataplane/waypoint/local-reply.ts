// Answers the proxy gives itself (Envoy's local replies): 403 `RBAC: access denied`, 401 with jwt_authn's text,
// 503/504 for upstream failures, 404 when no route matches. gRPC callers get the status mapped to a gRPC code in
// a trailers-only response, as Envoy does for gRPC requests.

import type { RequestContext } from "./context.js";

export interface LocalReply {
  status: number;
  body: string;
  /** Envoy's response code details, e.g. `rbac_access_denied_matched_policy[none]`. */
  details: string;
  flags?: string[];
  headers?: Record<string, string>;
}

// https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md
export function grpcStatusFor(http: number): number {
  switch (http) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

export function sendLocalReply(ctx: RequestContext, r: LocalReply): void {
  // Already answered in full (a filter answered from a body callback): nothing more to send.
  if (ctx.downstream.res.writableEnded) return;
  ctx.responseCode = r.status;
  ctx.details = r.details;
  if (r.flags) ctx.flags.push(...r.flags);
  const d = ctx.downstream;
  if (d.res.headersSent) {
    // Too late for an answer: cut the stream so the client sees a failure, not a truncated success.
    if (d.version === "HTTP/2") d.res.stream.close(0x2);
    else d.res.destroy();
    return;
  }
  if (ctx.grpc && d.version === "HTTP/2") {
    const grpc = grpcStatusFor(r.status);
    ctx.grpcStatus = String(grpc);
    ctx.responseCode = 200;
    const headers: Record<string, string | string[] | undefined> = {
      "content-type": "application/grpc",
      "grpc-status": String(grpc),
      "grpc-message": grpcPercentEncode(r.body),
      ...r.headers,
    };
    responseHooks(ctx, 200, headers);
    if (!d.res.stream.destroyed) d.res.stream.respond({ ...headers, ":status": 200 }, { endStream: true });
    return;
  }
  const body = Buffer.from(r.body);
  ctx.responseBytes += body.length;
  const headers: Record<string, string | string[] | undefined> = { "content-type": "text/plain", ...r.headers };
  responseHooks(ctx, r.status, headers);
  // The body is the reply's own: its length stays right whatever the hooks did.
  headers["content-length"] = String(body.length);
  d.res.writeHead(r.status, headers);
  d.res.end(body);
}

/** Filters that saw the request see a local reply's headers too, in reverse order, as Envoy encodes local replies. */
function responseHooks(ctx: RequestContext, status: number, headers: Record<string, string | string[] | undefined>) {
  for (let i = ctx.chain.length - 1; i >= 0; i--) ctx.chain[i]!.onResponseHeaders?.(ctx, status, headers);
}

/** gRPC's percent-encoding for `grpc-message` (PROTOCOL-HTTP2): only `%` and bytes outside 0x20–0x7E, as UTF-8. */
export function grpcPercentEncode(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}
