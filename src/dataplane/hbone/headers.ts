// The CONNECT request's authority and the headers ztunnel sends with it (data-plane.md §1.4).

import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

export interface Authority {
  /** An IP (without brackets) or a hostname. */
  host: string;
  port: number;
}

/** `ip:port`, `[v6]:port` or `host:port`; anything else is undefined (the server answers 400). */
export function parseAuthority(value: string | undefined): Authority | undefined {
  if (!value) return undefined;
  let host: string;
  let portText: string;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0 || value[close + 1] !== ":") return undefined;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = value.lastIndexOf(":");
    if (colon <= 0 || value.indexOf(":") !== colon) return undefined;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (
      !isIP(host) &&
      !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
    ) {
      return undefined;
    }
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

export function formatAuthority(a: Authority): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Source-workload attributes for `baggage`; absent values are omitted. */
export interface BaggageAttributes {
  clusterName?: string;
  namespace?: string;
  /** Which workload kind names the workload: deployment, cronjob, pod or job. */
  workloadKind?: "deployment" | "cronjob" | "pod" | "job";
  workloadName?: string;
  serviceName?: string;
  serviceVersion?: string;
  region?: string;
  zone?: string;
}

export function baggageHeader(a: BaggageAttributes): string {
  const entries: Array<[string, string | undefined]> = [
    ["k8s.cluster.name", a.clusterName],
    ["k8s.namespace.name", a.namespace],
    [`k8s.${a.workloadKind ?? "deployment"}.name`, a.workloadName],
    ["service.name", a.serviceName],
    ["service.version", a.serviceVersion],
    ["cloud.region", a.region],
    ["cloud.availability_zone", a.zone],
  ];
  return entries
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** `for="<src ip:port>"`, plus `;host=<service FQDN>` when the destination is a known Service. */
export function forwardedHeader(source: Authority, serviceHost?: string): string {
  const forwarded = `for="${formatAuthority(source)}"`;
  return serviceHost ? `${forwarded};host=${serviceHost}` : forwarded;
}

// A randomBytes call per tunnel costs more than the rest of the header work; one call serves 256 tunnels, and
// each 24-byte slice is used once.
const TRACE_BYTES = 24;
const ENTROPY_BYTES = TRACE_BYTES * 256;
let entropy = Buffer.alloc(0);
let entropyOffset = 0;

/** W3C traceparent, random per connection: it traces the connection, not the app's requests. */
export function newTraceparent(): string {
  if (entropyOffset === entropy.length) {
    entropy = randomBytes(ENTROPY_BYTES);
    entropyOffset = 0;
  }
  const r = entropy.toString("hex", entropyOffset, entropyOffset + TRACE_BYTES);
  entropyOffset += TRACE_BYTES;
  return `00-${r.slice(0, 32)}-${r.slice(32, 48)}-00`;
}
