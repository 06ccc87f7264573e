// router phase: pick the route (HTTPRoute rule, or the service's default route), a weighted backend, an endpoint,
// then forward with Istio's retry policy (2 retries on connect failure, refused stream and 503, each on another
// host when there is one) and the route's timeout. The response streams back with its trailers (gRPC status).

import { request as h1request, type IncomingMessage } from "node:http";
import { type ClientHttp2Stream, constants as h2c, type IncomingHttpHeaders } from "node:http2";
import type { Readable } from "node:stream";
import type { WaypointEndpoint } from "../../../xds/waypoint-config.js";
import { Balancer, type EndpointHealthTable, type LbPolicy, type OutlierOptions, pickWeighted } from "../balancer.js";
import { ReplayableBody } from "../body.js";
import type { Filter, FilterResult } from "../chain.js";
import type { RequestContext } from "../context.js";
import { applyModifier, forwardable, type HeaderModifier, type Headers } from "../headers.js";
import type { LocalReply } from "../local-reply.js";
import type { RetryPolicy } from "../routes.js";
import type { PortProtocol } from "../state.js";
import { ConnectFailure, type Upstreams } from "../upstream.js";

export interface RouterOptions {
  upstreams: Upstreams;
  health: EndpointHealthTable;
  lbPolicy: LbPolicy;
  outlier: OutlierOptions;
  /** Request bytes kept for retries (Envoy's per-request buffer limit); default 1 MiB. */
  retryBufferBytes: number;
}

/** Istio's default retry policy for HTTP routes (attempts 2, retriable status 503, 25 ms base backoff). */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 2, codes: [503], backoffMs: 25 };

interface Plan {
  balancer: Balancer;
  targetPort: number;
  cluster: string;
  routeName: string | undefined;
  requestMods: Array<HeaderModifier | undefined>;
  responseMods: Array<HeaderModifier | undefined>;
  timeoutMs: number;
  perTryTimeoutMs: number;
  retry: RetryPolicy;
}

type Outcome =
  | {
      kind: "response";
      status: number;
      headers: IncomingHttpHeaders;
      body: Readable;
      trailersOnly: boolean;
      abort: () => void;
    }
  | { kind: "connect-failure"; message: string }
  | { kind: "reset"; message: string; retriable: boolean }
  | { kind: "timeout" };

const NO_ROUTE: LocalReply = { status: 404, body: "", details: "route_not_found", flags: ["NR"] };

function serverError(details: string): LocalReply {
  return { status: 500, body: "", details };
}

function clusterName(protocol: PortProtocol, port: number, hostname: string): string {
  return `inbound-vip|${port}|${protocol === "tcp" ? "tcp" : "http"}|${hostname}`;
}

export function routerFilter(opts: RouterOptions): Filter {
  // One balancer per directly addressed workload, kept across requests for least-request and outlier state.
  const workloadBalancers = new Map<string, Balancer>();

  function plan(ctx: RequestContext): Plan | LocalReply {
    const d = ctx.destination;
    if (d.kind === "workload") {
      let b = workloadBalancers.get(d.workload.address);
      if (!b || b.endpoints[0] !== d.workload) {
        b = new Balancer([d.workload], opts.health, opts.lbPolicy, opts.outlier);
        workloadBalancers.set(d.workload.address, b);
      }
      return {
        balancer: b,
        targetPort: d.port,
        cluster: `encap|${d.workload.address}:${d.port}`,
        routeName: undefined,
        requestMods: [],
        responseMods: [],
        timeoutMs: 0,
        perTryTimeoutMs: 0,
        retry: DEFAULT_RETRY,
      };
    }
    let service = d.service;
    let port = d.port;
    if (port.routes.empty) {
      return {
        balancer: service.balancer,
        targetPort: port.targetPort,
        cluster: clusterName(port.protocol, port.port, service.service.hostname),
        routeName: "default",
        requestMods: [],
        responseMods: [],
        timeoutMs: 0,
        perTryTimeoutMs: 0,
        retry: DEFAULT_RETRY,
      };
    }
    const rule = port.routes.match({ method: ctx.method, path: ctx.path, headers: ctx.headers });
    if (!rule) return NO_ROUTE;
    // Gateway API: a rule with no usable backend answers 500.
    const backend = pickWeighted(rule.backends);
    if (!backend) return serverError("no_backend");
    const target = ctx.state.service(backend.service);
    const targetPort = target?.ports.get(backend.port ?? d.port.port);
    if (!target || !targetPort) return serverError("cluster_not_found");
    service = target;
    port = targetPort;
    return {
      balancer: service.balancer,
      targetPort: port.targetPort,
      cluster: clusterName(port.protocol, port.port, service.service.hostname),
      routeName: rule.name,
      requestMods: [rule.requestHeaders, backend.requestHeaders],
      responseMods: [rule.responseHeaders, backend.responseHeaders],
      timeoutMs: rule.timeoutMs,
      perTryTimeoutMs: rule.perTryTimeoutMs,
      retry: rule.retry ?? DEFAULT_RETRY,
    };
  }

  function tryHttp1(
    ctx: RequestContext,
    ep: WaypointEndpoint,
    p: Plan,
    headers: Headers,
    body: ReplayableBody,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      const req = h1request({
        agent: opts.upstreams.agent(ep, p.targetPort),
        method: ctx.method,
        path: ctx.path,
        headers: { ...headers, host: ctx.authority },
        setHost: false,
      });
      req.once("response", (res: IncomingMessage) =>
        resolve({
          kind: "response",
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: res,
          trailersOnly: false,
          abort: () => req.destroy(),
        }),
      );
      req.once("error", (err) => {
        if (err instanceof ConnectFailure) resolve({ kind: "connect-failure", message: err.message });
        // A pooled keep-alive tunnel the far side had already closed: safe to try again.
        else resolve({ kind: "reset", message: err.message, retriable: req.reusedSocket });
      });
      body.attach(req);
      ctx.downstream.req.once("aborted", () => req.destroy());
    });
  }

  async function tryHttp2(
    ctx: RequestContext,
    ep: WaypointEndpoint,
    p: Plan,
    headers: Headers,
    body: ReplayableBody,
  ): Promise<Outcome> {
    let stream: ClientHttp2Stream;
    try {
      const session = await opts.upstreams.session(ep, p.targetPort);
      stream = session.request(
        { ...headers, ":method": ctx.method, ":path": ctx.path, ":authority": ctx.authority, ":scheme": "http" },
        { endStream: false },
      );
    } catch (e) {
      return { kind: "connect-failure", message: (e as Error).message };
    }
    return new Promise((resolve) => {
      stream.once("response", (h, flags) =>
        resolve({
          kind: "response",
          status: Number(h[":status"] ?? 502),
          headers: h,
          body: stream,
          trailersOnly: (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0,
          abort: () => stream.close(h2c.NGHTTP2_CANCEL),
        }),
      );
      stream.once("error", (err) => resolve({ kind: "reset", message: err.message, retriable: false }));
      stream.once("close", () => {
        const refused = stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM;
        resolve({ kind: "reset", message: `upstream reset (HTTP/2 code ${stream.rstCode})`, retriable: refused });
      });
      body.attach(stream);
    });
  }

  function withTimeout(p: Promise<Outcome>, ms: number, onTimeout: () => void): Promise<Outcome> {
    if (!Number.isFinite(ms)) return p;
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<Outcome>((r) => {
      timer = setTimeout(
        () => {
          onTimeout();
          r({ kind: "timeout" });
        },
        Math.max(0, ms),
      );
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  function relay(ctx: RequestContext, p: Plan, out: Extract<Outcome, { kind: "response" }>): Promise<void> {
    const headers = forwardable(out.headers as Headers);
    for (const m of p.responseMods) applyModifier(headers, m);
    // Response hooks run in reverse chain order, as Envoy's encoder filters do.
    for (let i = ctx.chain.length - 1; i >= 0; i--) ctx.chain[i]!.onResponseHeaders?.(ctx, out.status, headers);
    ctx.responseCode = out.status;
    const grpcStatus = out.headers["grpc-status"];
    if (grpcStatus !== undefined) ctx.grpcStatus = String(grpcStatus);
    const d = ctx.downstream;
    if (d.version === "HTTP/2" && out.trailersOnly) {
      if (!d.res.stream.destroyed) d.res.stream.respond({ ...headers, ":status": out.status }, { endStream: true });
      out.body.resume();
      return Promise.resolve();
    }
    d.res.writeHead(out.status, headers);
    return new Promise((resolve) => {
      const src = out.body;
      // Filters may replace the body (Wasm body callbacks); trailers still come from the upstream stream.
      let data = src;
      for (let i = ctx.chain.length - 1; i >= 0; i--) data = ctx.chain[i]!.responseBody?.(ctx, data) ?? data;
      let trailers: IncomingHttpHeaders | undefined;
      src.on("trailers", (t: IncomingHttpHeaders) => {
        trailers = t;
      });
      data.on("data", (chunk: Buffer) => {
        ctx.responseBytes += chunk.length;
        if (!(d.res as NodeJS.WritableStream).write(chunk)) {
          data.pause();
          d.res.once("drain", () => data.resume());
        }
      });
      data.once("end", () => {
        const t = trailers ?? (src as IncomingMessage).trailers;
        if (t && Object.keys(t).length > 0) {
          const fwd = forwardable(t as Headers);
          if (fwd["grpc-status"] !== undefined) ctx.grpcStatus = String(fwd["grpc-status"]);
          d.res.addTrailers(fwd as Record<string, string>);
        }
        d.res.end();
        resolve();
      });
      let failed = false;
      const onError = () => {
        if (failed) return;
        failed = true;
        ctx.flags.push("UC");
        if (d.version === "HTTP/2") d.res.stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
        else d.res.destroy();
        resolve();
      };
      src.once("error", onError);
      if (data !== src) data.once("error", onError);
      d.res.once("close", () => {
        if (!d.res.writableFinished) {
          ctx.flags.push("DC");
          out.abort();
          resolve();
        }
      });
    });
  }

  async function forward(ctx: RequestContext, p: Plan): Promise<FilterResult> {
    ctx.cluster = p.cluster;
    ctx.routeName = p.routeName;
    const headers = forwardable(ctx.headers);
    for (const m of p.requestMods) applyModifier(headers, m);
    headers["x-forwarded-proto"] ??= "http";
    headers.traceparent = ctx.traceparent;
    if (ctx.grpc) headers.te = "trailers";
    let src: Readable = ctx.downstream.req;
    for (const f of ctx.chain) src = f.requestBody?.(ctx, src) ?? src;
    const body = new ReplayableBody(src, opts.retryBufferBytes);
    const deadline = p.timeoutMs > 0 ? Date.now() + p.timeoutMs : Number.POSITIVE_INFINITY;
    const tried = new Set<string>();
    let clientGone = false;
    ctx.downstream.res.once("close", () => {
      clientGone = true;
    });
    try {
      for (let attempt = 0; ; attempt++) {
        const ep = p.balancer.pick(tried);
        if (!ep) return { status: 503, body: "no healthy upstream", details: "no_healthy_upstream", flags: ["UH"] };
        tried.add(ep.address);
        ctx.endpoint = ep;
        p.balancer.begin(ep);
        let abortTry = () => {};
        const attemptP = (ctx.downstream.version === "HTTP/2" ? tryHttp2 : tryHttp1)(ctx, ep, p, headers, body).then(
          (o) => {
            if (o.kind === "response") abortTry = o.abort;
            return o;
          },
        );
        const limit = Math.min(
          deadline - Date.now(),
          p.perTryTimeoutMs > 0 ? p.perTryTimeoutMs : Number.POSITIVE_INFINITY,
        );
        const out = await withTimeout(attemptP, limit, () => {
          body.detach();
          attemptP.then((o) => (o.kind === "response" ? o.abort() : undefined));
        });
        const retriesLeft = attempt < p.retry.attempts && body.replayable && !clientGone;
        if (out.kind === "timeout") {
          p.balancer.end(ep, 504);
          abortTry();
          return { status: 504, body: "upstream request timeout", details: "upstream_response_timeout", flags: ["UT"] };
        }
        if (out.kind === "response") {
          if (p.retry.codes.includes(out.status) && retriesLeft && Date.now() < deadline) {
            p.balancer.end(ep, out.status);
            body.detach();
            out.body.resume();
            out.abort();
            await backoff(p.retry.backoffMs, attempt);
            continue;
          }
          p.balancer.end(ep, out.status);
          if (clientGone) {
            out.abort();
            ctx.flags.push("DC");
            return "handled";
          }
          await relay(ctx, p, out);
          return "handled";
        }
        p.balancer.end(ep, out.kind === "connect-failure" ? "connect-failure" : 503);
        body.detach();
        const retriable = out.kind === "connect-failure" || out.retriable;
        if (retriable && retriesLeft && Date.now() < deadline) {
          await backoff(p.retry.backoffMs, attempt);
          continue;
        }
        const reason = out.kind === "connect-failure" ? "connection failure" : "remote reset";
        const flags = [out.kind === "connect-failure" ? "UF" : "UC"];
        if (attempt > 0) flags.push("URX");
        return {
          status: 503,
          body: `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`,
          details: `upstream_reset_before_response_started{${reason.replace(" ", "_")}}`,
          flags,
        };
      }
    } finally {
      ctx.requestBytes = body.bytes;
    }
  }

  return {
    name: "router",
    onRequest(ctx: RequestContext) {
      const p = plan(ctx);
      if ("status" in p) return p;
      return forward(ctx, p);
    },
  };
}

/** Envoy's jittered exponential backoff: uniform in [0, base × 2^attempt). */
function backoff(baseMs: number, attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * baseMs * 2 ** attempt));
}
