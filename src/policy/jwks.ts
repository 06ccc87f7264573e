// Where remote JWKS come from. The engine only sees this interface; `jwks-http.ts` is the real network client.
// Envoy caches remote JWKS for 5 minutes (policy.md §2.1); a failed fetch is not cached so the next request retries.

import type { JSONWebKeySet } from "jose";

export interface JwksFetcher {
  /** Resolves the key set at `uri` or rejects (timeout, network, bad JSON); the caller fails closed. */
  fetch(uri: string, timeoutMs: number): Promise<JSONWebKeySet>;
}

export interface JwksCacheOptions {
  ttlMs?: number;
  now?: () => number;
}

export const DEFAULT_JWKS_TTL_MS = 5 * 60 * 1000;

/** Wraps a fetcher with a per-URI cache; concurrent misses share one fetch. */
export class CachingJwksFetcher implements JwksFetcher {
  private readonly entries = new Map<string, { at: number; value: Promise<JSONWebKeySet> }>();
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: JwksFetcher,
    opts: JwksCacheOptions = {},
  ) {
    this.ttl = opts.ttlMs ?? DEFAULT_JWKS_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  fetch(uri: string, timeoutMs: number): Promise<JSONWebKeySet> {
    const hit = this.entries.get(uri);
    if (hit && this.now() - hit.at < this.ttl) return hit.value;
    const value = this.inner.fetch(uri, timeoutMs);
    this.entries.set(uri, { at: this.now(), value });
    value.catch(() => {
      if (this.entries.get(uri)?.value === value) this.entries.delete(uri);
    });
    return value;
  }
}
