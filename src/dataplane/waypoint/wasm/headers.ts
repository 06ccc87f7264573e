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

function add(target: Headers, name: string, value: string): void {
  const k = name.toLowerCase();
  if (k.startsWith(":")) return;
  const cur = target[k];
  target[k] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
}

/** A header map handed to a plugin, and its pairs as they were handed over (name, value, name, value, ...). */
export interface SentHeaders {
  map: HeaderMap;
  sent: string[];
}

function sent(map: HeaderMap): SentHeaders {
  const flat: string[] = new Array(map.length * 2);
  for (let i = 0; i < map.length; i++) {
    const [k, v] = map[i]!;
    flat[2 * i] = k;
    flat[2 * i + 1] = v;
  }
  return { map, sent: flat };
}

/**
 * Writes a map's regular headers into `target` in place (pseudo-headers are the proxy's, not the plugin's). Most
 * callbacks change nothing or only append: then the record is kept as it is (rebuilding it costs more than the
 * callback) and appended pairs are added to it.
 */
function writeBack(target: Headers, { map, sent }: SentHeaders): void {
  const kept = sent.length / 2;
  let intact = map.length >= kept;
  for (let i = 0; intact && i < kept; i++) {
    const pair = map[i]!;
    intact = pair[0] === sent[2 * i] && pair[1] === sent[2 * i + 1];
  }
  if (intact) {
    for (let i = kept; i < map.length; i++) add(target, map[i]![0], map[i]![1]);
    return;
  }
  for (const k in target) if (!k.startsWith(":")) delete target[k];
  for (const [name, value] of map) add(target, name, value);
}

export function requestHeaderMap(ctx: RequestContext): SentHeaders {
  const map: HeaderMap = [
    [":method", ctx.method],
    [":path", ctx.path],
    [":authority", ctx.authority],
    [":scheme", "http"],
  ];
  append(map, ctx.headers);
  return sent(map);
}

export function applyRequestHeaderMap(ctx: RequestContext, headers: SentHeaders): void {
  writeBack(ctx.headers, headers);
}

export function responseHeaderMap(status: number, headers: Readonly<Headers>): SentHeaders {
  const map: HeaderMap = [[":status", String(status)]];
  append(map, headers);
  return sent(map);
}

export function applyResponseHeaderMap(headers: Headers, sent: SentHeaders): void {
  writeBack(headers, sent);
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
