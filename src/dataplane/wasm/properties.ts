// Property lookup for proxy_get_property. Paths arrive as NUL-separated segments; we key them by the dotted form
// ("source.address"). Values are encoded the way Envoy hands them to plugins: strings as UTF-8, integers as
// 8-byte little-endian int64, booleans as one byte, maps in the serialised header-map form.

import { type HeaderMap, headerValue, serializeHeaders } from "./header-map.js";

export type PropertyValue = string | number | bigint | boolean | Uint8Array | HeaderMap | Record<string, string>;

/**
 * Per-connection or per-request attributes, keyed by dotted path: `source.address`, `source.port`,
 * `destination.address`, `destination.port`, `connection.mtls`, `source.principal`
 * (= `connection.uri_san_peer_certificate`), `request.protocol`, ...
 */
export type PropertyBag = Record<string, PropertyValue>;

export interface PropertySources {
  bag: PropertyBag;
  plugin: PropertyBag;
  requestHeaders?: HeaderMap | undefined;
  responseHeaders?: HeaderMap | undefined;
}

const ALIASES: Record<string, string> = {
  "source.principal": "connection.uri_san_peer_certificate",
  "connection.uri_san_peer_certificate": "source.principal",
};

export function encodeProperty(v: PropertyValue): Uint8Array {
  if (typeof v === "string") return Buffer.from(v, "utf8");
  if (typeof v === "boolean") return Uint8Array.of(v ? 1 : 0);
  if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(v));
    return b;
  }
  if (typeof v === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return b;
  }
  if (v instanceof Uint8Array) return v;
  return serializeHeaders(Array.isArray(v) ? v : Object.entries(v));
}

export function resolveProperty(segments: string[], src: PropertySources): PropertyValue | undefined {
  const key = segments.join(".");
  const direct = src.bag[key] ?? src.plugin[key];
  if (direct !== undefined) return direct;
  const alias = ALIASES[key];
  if (alias !== undefined) {
    const v = src.bag[alias];
    if (v !== undefined) return v;
  }
  const [root, field, ...rest] = segments;
  if (root === "request" && src.requestHeaders !== undefined) return requestProperty(field, rest, src.requestHeaders);
  if (root === "response" && src.responseHeaders !== undefined) {
    if (field === "code") {
      const status = headerValue(src.responseHeaders, ":status");
      return status === undefined ? undefined : Number(status);
    }
    if (field === "headers") return headersProperty(rest, src.responseHeaders);
  }
  return undefined;
}

function requestProperty(field: string | undefined, rest: string[], headers: HeaderMap): PropertyValue | undefined {
  switch (field) {
    case "path":
      return headerValue(headers, ":path");
    case "url_path": {
      const p = headerValue(headers, ":path");
      return p === undefined ? undefined : p.split("?", 1)[0];
    }
    case "host":
      return headerValue(headers, ":authority") ?? headerValue(headers, "host");
    case "method":
      return headerValue(headers, ":method");
    case "scheme":
      return headerValue(headers, ":scheme");
    case "referer":
      return headerValue(headers, "referer");
    case "useragent":
      return headerValue(headers, "user-agent");
    case "id":
      return headerValue(headers, "x-request-id");
    case "headers":
      return headersProperty(rest, headers);
    default:
      return undefined;
  }
}

function headersProperty(rest: string[], headers: HeaderMap): PropertyValue | undefined {
  if (rest.length === 0) return headers;
  return headerValue(headers, rest.join("."));
}
