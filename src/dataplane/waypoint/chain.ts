// The waypoint's HTTP filter chain, a fixed lifecycle like fastify's hooks (policy.md §1.2, §5):
//   [Wasm AUTHN] → authn (RequestAuthentication) → [Wasm AUTHZ] → authz (AuthorizationPolicy) →
//   [Wasm STATS] → stats → [Wasm UNSPECIFIED_PHASE] → router
// Every filter may answer the request itself by returning a LocalReply; the rest of the chain is then skipped.
// After the response, every filter's onDone runs (stats records metrics and the access log there).

import type { Readable } from "node:stream";
import type { RequestContext } from "./context.js";
import { type LocalReply, sendLocalReply } from "./local-reply.js";

/** The built-in phases, in order. */
export const PHASES = ["authn", "authz", "stats", "router"] as const;
export type PhaseName = (typeof PHASES)[number];
/** Where extension filters (Wasm plugins) go: before the built-in filter of the same phase; UNSPECIFIED before the router. */
export type ExtensionPhase = "AUTHN" | "AUTHZ" | "STATS" | "UNSPECIFIED_PHASE";

/** `undefined` continues; a LocalReply answers; "handled" means the filter has written the response. */
export type FilterResult = undefined | LocalReply | "handled";

export interface Filter {
  readonly name: string;
  onRequest(ctx: RequestContext): FilterResult | Promise<FilterResult>;
  /** Response headers on their way to the client (the router calls it); filters may edit them. */
  onResponseHeaders?(ctx: RequestContext, status: number, headers: Record<string, string | string[] | undefined>): void;
  /** The request body on its way upstream; a filter may return a stream that replaces it (Wasm body callbacks). */
  requestBody?(ctx: RequestContext, body: Readable): Readable;
  /** The response body on its way to the client (reverse chain order); a filter may replace it. */
  responseBody?(ctx: RequestContext, body: Readable): Readable;
  /** Once the exchange is over, answered locally or not. */
  onDone?(ctx: RequestContext): void;
}

export interface ExtensionFilter extends Filter {
  readonly phase: ExtensionPhase;
}

const EXTENSION_BEFORE: Record<ExtensionPhase, PhaseName> = {
  AUTHN: "authn",
  AUTHZ: "authz",
  STATS: "stats",
  UNSPECIFIED_PHASE: "router",
};

/** Lays out the chain: each phase's extensions (already ordered by priority), then the built-in filter. */
export function buildChain(
  builtins: Readonly<Record<PhaseName, Filter>>,
  extensions: readonly ExtensionFilter[],
): Filter[] {
  const chain: Filter[] = [];
  for (const phase of PHASES) {
    for (const e of extensions) if (EXTENSION_BEFORE[e.phase] === phase) chain.push(e);
    chain.push(builtins[phase]);
  }
  return chain;
}

export async function runChain(chain: readonly Filter[], ctx: RequestContext): Promise<void> {
  for (const f of chain) {
    const r = await f.onRequest(ctx);
    if (r === undefined) continue;
    if (r !== "handled") sendLocalReply(ctx, r);
    return;
  }
}
