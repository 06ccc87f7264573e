// Header maps as the waypoint forwards them, and Gateway API header modifiers (set / add / remove).

import { AmbitError } from "../../errors.js";

/** Lower-case names; repeated headers as arrays (Node's shape). */
export type Headers = Record<string, string | string[] | undefined>;

export interface HeaderModifier {
  set: Array<[string, string]>;
  add: Array<[string, string]>;
  remove: string[];
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and HTTP/2 pseudo-headers are never forwarded as they are.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "http2-settings",
  "host",
]);

export function parseHeaderModifier(raw: Record<string, unknown> | undefined, where: string): HeaderModifier {
  const pairs = (key: "set" | "add"): Array<[string, string]> =>
    ((raw?.[key] as Array<Record<string, unknown>> | undefined) ?? []).map((h) => {
      if (typeof h.name !== "string" || h.name === "")
        throw new AmbitError("AMBIT_WAYPOINT_CONFIG", `${where}: ${key} without a name`);
      return [h.name.toLowerCase(), String(h.value ?? "")];
    });
  return {
    set: pairs("set"),
    add: pairs("add"),
    remove: ((raw?.remove as unknown[] | undefined) ?? []).map((n) => String(n).toLowerCase()),
  };
}

export function applyModifier(h: Headers, m: HeaderModifier | undefined): void {
  if (!m) return;
  for (const [k, v] of m.set) h[k] = v;
  for (const [k, v] of m.add) {
    const cur = h[k];
    h[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  for (const k of m.remove) delete h[k];
}

/** The headers to send upstream: the request's end-to-end headers (pseudo-headers and hop-by-hop dropped). */
export function forwardable(src: Readonly<Headers>): Headers {
  const out: Headers = {};
  const connection = src.connection;
  const listed = new Set(
    (Array.isArray(connection) ? connection.join(",") : (connection ?? ""))
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const k in src) {
    if (k.startsWith(":") || HOP_BY_HOP.has(k) || listed.has(k)) continue;
    out[k] = src[k];
  }
  return out;
}

export function first(h: Readonly<Headers>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}
