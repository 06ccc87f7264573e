// The real JWKS client: Node's fetch with a timeout. Kept apart so the engine stays free of network code.

import type { JSONWebKeySet } from "jose";
import { AmbitError } from "../errors.js";
import type { JwksFetcher } from "./jwks.js";

export class HttpJwksFetcher implements JwksFetcher {
  async fetch(uri: string, timeoutMs: number): Promise<JSONWebKeySet> {
    let res: Response;
    try {
      res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
    } catch (e) {
      throw new AmbitError("AMBIT_POLICY_JWKS_FETCH", `fetching JWKS from ${uri} failed`, { cause: e });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AmbitError("AMBIT_POLICY_JWKS_FETCH", `fetching JWKS from ${uri} answered HTTP ${res.status}`);
    }
    const body = (await res.json()) as unknown;
    if (!body || typeof body !== "object" || !Array.isArray((body as { keys?: unknown }).keys)) {
      throw new AmbitError("AMBIT_POLICY_JWKS_INVALID", `JWKS from ${uri} has no "keys" array`);
    }
    return body as JSONWebKeySet;
  }
}
