// Load balancing over one service's endpoints, with outlier detection: an endpoint that answers N consecutive
// 5xx (or fails to connect) is ejected for a while (Envoy's consecutive_5xx; base ejection time × times ejected).
// When every endpoint is ejected the balancer uses them all (Envoy's panic mode) rather than failing.

import type { WaypointEndpoint } from "../../xds/waypoint-config.js";

export type LbPolicy = "ROUND_ROBIN" | "LEAST_REQUEST";

export interface OutlierOptions {
  /** Consecutive 5xx before ejection; default 5. 0 disables detection. */
  consecutive5xx: number;
  /** Default 30 s. */
  baseEjectionMs: number;
}

export const DEFAULT_OUTLIER: OutlierOptions = { consecutive5xx: 5, baseEjectionMs: 30_000 };

/** Per-endpoint state that outlives config updates, keyed by address. */
export interface EndpointHealth {
  active: number;
  consecutive5xx: number;
  ejectedUntil: number;
  ejections: number;
}

export class EndpointHealthTable {
  readonly #byAddress = new Map<string, EndpointHealth>();

  get(address: string): EndpointHealth {
    let h = this.#byAddress.get(address);
    if (!h) {
      h = { active: 0, consecutive5xx: 0, ejectedUntil: 0, ejections: 0 };
      this.#byAddress.set(address, h);
    }
    return h;
  }

  /** Forgets endpoints no longer in config. */
  retain(addresses: ReadonlySet<string>): void {
    for (const a of this.#byAddress.keys()) if (!addresses.has(a)) this.#byAddress.delete(a);
  }
}

export class Balancer {
  #next = 0;

  constructor(
    readonly endpoints: readonly WaypointEndpoint[],
    private readonly health: EndpointHealthTable,
    private readonly policy: LbPolicy,
    private readonly outlier: OutlierOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Picks an endpoint, avoiding `exclude` (hosts already tried) when another one is available. */
  pick(exclude?: ReadonlySet<string>): WaypointEndpoint | undefined {
    const healthy = this.endpoints.filter((e) => e.healthy);
    if (healthy.length === 0) return undefined;
    const t = this.now();
    let usable = healthy.filter((e) => this.health.get(e.address).ejectedUntil <= t);
    if (usable.length === 0) usable = healthy;
    if (exclude && exclude.size > 0) {
      const fresh = usable.filter((e) => !exclude.has(e.address));
      if (fresh.length > 0) usable = fresh;
    }
    if (usable.length === 1) return usable[0];
    if (this.policy === "ROUND_ROBIN") return usable[this.#next++ % usable.length];
    // Least request, power of two choices (Envoy's default choice_count 2).
    const a = usable[Math.floor(Math.random() * usable.length)]!;
    let b = usable[Math.floor(Math.random() * usable.length)]!;
    if (b === a) b = usable[(usable.indexOf(a) + 1) % usable.length]!;
    return this.health.get(a.address).active <= this.health.get(b.address).active ? a : b;
  }

  begin(e: WaypointEndpoint): void {
    this.health.get(e.address).active++;
  }

  /** Records how a try ended: a status code, or "connect-failure". Returns true when it ejected the endpoint. */
  end(e: WaypointEndpoint, outcome: number | "connect-failure"): boolean {
    const h = this.health.get(e.address);
    h.active--;
    if (this.outlier.consecutive5xx <= 0) return false;
    if (outcome === "connect-failure" || outcome >= 500) {
      h.consecutive5xx++;
      if (h.consecutive5xx >= this.outlier.consecutive5xx) {
        h.consecutive5xx = 0;
        h.ejections++;
        h.ejectedUntil = this.now() + this.outlier.baseEjectionMs * h.ejections;
        return true;
      }
      return false;
    }
    h.consecutive5xx = 0;
    return false;
  }
}

/** Weighted choice among backends (HTTPRoute backendRefs); zero total weight gives undefined. */
export function pickWeighted<T extends { weight: number }>(items: readonly T[], random = Math.random): T | undefined {
  let total = 0;
  for (const i of items) total += i.weight;
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const i of items) {
    r -= i.weight;
    if (r < 0) return i;
  }
  return items[items.length - 1];
}
