// The chain's headers (Node's lower-case record, repeated headers as arrays) as proxy-wasm header maps
// ([name, value] pairs with pseudo-headers first, as Envoy hands them over) and back after a callback.

import type { HeaderMap } from "../../wasm/index.js";
import type { RequestContext } from "../context.js";
import type { Headers } from "../headers.js";

function append(map: HeaderMap, headers: Readonly<Headers>): void {
  for (const k in headers) {
    if (k.startsWith(":")) continue;
    const v = headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) map.push([k, one]);
    else map.push([k, v]);
  }
}

/** Writes a map's regular headers into `target` in place (pseudo-headers are the proxy's, not the plugin's). */
function writeBack(target: Headers, map: HeaderMap): void {
  for (const k in target) if (!k.startsWith(":")) delete target[k];
  for (const [name, value] of map) {
    const k = name.toLowerCase();
    if (k.startsWith(":")) continue;
    const cur = target[k];
    target[k] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
  }
}

export function requestHeaderMap(ctx: RequestContext): HeaderMap {
  const map: HeaderMap = [
    [":method", ctx.method],
    [":path", ctx.path],
    [":authority", ctx.authority],
    [":scheme", "http"],
  ];
  append(map, ctx.headers);
  return map;
}

export function applyRequestHeaderMap(ctx: RequestContext, map: HeaderMap): void {
  writeBack(ctx.headers, map);
}

export function responseHeaderMap(status: number, headers: Readonly<Headers>): HeaderMap {
  const map: HeaderMap = [[":status", String(status)]];
  append(map, headers);
  return map;
}

export function applyResponseHeaderMap(headers: Headers, map: HeaderMap): void {
  writeBack(headers, map);
}

/** A local response's header map as the record `sendLocalReply` takes (repeated names joined). */
export function headerRecord(map: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of map) {
    const k = name.toLowerCase();
    if (k.startsWith(":")) continue;
    out[k] = out[k] === undefined ? value : `${out[k]}, ${value}`;
  }
  return out;
}
