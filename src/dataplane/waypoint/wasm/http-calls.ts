// proxy_http_call from plugins in the waypoint. The `upstream` a plugin names is resolved against the waypoint's
// current config: an Envoy cluster name (`outbound|<port>||<host>`, or the router's `inbound-vip|<port>|http|<host>`)
// or `<host>:<port>` naming a bound service (hostname, short name or VIP) goes to one of its healthy endpoints over
// HBONE, with the waypoint's own identity; any other `<host>:<port>` is a plain HTTP/1.1 request to that address.

import { request as h1request, type IncomingMessage, type RequestOptions } from "node:http";
import type { WaypointEndpoint, WaypointL7Config, WaypointService } from "../../../xds/waypoint-config.js";
import { type HeaderMap, type HostCalls, type HttpCallResponse, headerValue } from "../../wasm/index.js";
import type { Upstreams } from "../upstream.js";

export interface HttpCallTarget {
  host: string;
  port: number;
}

/** Parses the cluster name a plugin passed. */
export function parseUpstream(upstream: string): HttpCallTarget | undefined {
  const parts = upstream.split("|");
  if (parts.length === 4) {
    const port = Number(parts[1]);
    return parts[3] && Number.isInteger(port) ? { host: parts[3], port } : undefined;
  }
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(upstream);
  if (!m) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: m[2] === undefined ? 80 : Number(m[2]) };
}

function findService(config: WaypointL7Config, host: string): WaypointService | undefined {
  const h = host.toLowerCase();
  return config.services.find(
    (s) =>
      s.hostname.toLowerCase() === h ||
      s.vips.includes(host) ||
      [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`].includes(h),
  );
}

export interface HttpCallOptions {
  config: () => WaypointL7Config | undefined;
  upstreams: Upstreams;
}

function toResponse(res: IncomingMessage, body: Buffer): HttpCallResponse {
  const headers: HeaderMap = [[":status", String(res.statusCode ?? 0)]];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
    headers.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
  const trailers: HeaderMap = [];
  for (let i = 0; i + 1 < res.rawTrailers.length; i += 2)
    trailers.push([res.rawTrailers[i]!.toLowerCase(), res.rawTrailers[i + 1]!]);
  return { headers, body, trailers };
}

export function waypointHttpCalls(opts: HttpCallOptions): HostCalls {
  return {
    httpCall(upstream, headers, body, _trailers, timeoutMs) {
      const target = parseUpstream(upstream);
      if (!target) return Promise.reject(new Error(`unknown cluster ${upstream}`));
      const plain: Record<string, string | string[]> = {};
      for (const [k, v] of headers) {
        if (k.startsWith(":")) continue;
        const cur = plain[k];
        plain[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
      }
      plain.host = headerValue(headers, ":authority") ?? upstream;
      const base: RequestOptions = {
        method: headerValue(headers, ":method"),
        path: headerValue(headers, ":path"),
        headers: plain,
        setHost: false,
      };
      const config = opts.config();
      const svc = config && findService(config, target.host);
      if (svc) {
        const port = svc.ports.find((p) => p.port === target.port);
        const healthy = svc.endpoints.filter((e) => e.healthy);
        const ep: WaypointEndpoint | undefined = healthy[Math.floor(Math.random() * healthy.length)];
        if (!port || !ep) return Promise.reject(new Error(`no healthy endpoint for ${upstream}`));
        return send({ ...base, agent: opts.upstreams.agent(ep, port.targetPort) }, body, timeoutMs);
      }
      return send({ ...base, host: target.host, port: target.port }, body, timeoutMs);
    },
  };
}

function send(options: RequestOptions, body: Uint8Array, timeoutMs: number): Promise<HttpCallResponse> {
  return new Promise((resolve, reject) => {
    const req = h1request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => resolve(toResponse(res, Buffer.concat(chunks))));
      res.once("error", reject);
    });
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.once("error", reject);
    req.end(body.length > 0 ? body : undefined);
  });
}
