// Order of WasmPlugins in a waypoint's chain (policy.md §5): by phase, then priority descending. As in Istio's
// code (not its API doc), an unset priority sorts as MinInt32, i.e. last, and ties keep creation-time order,
// with name and namespace breaking equal timestamps (sortConfigByCreationTime).

export type PluginPhase = "AUTHN" | "AUTHZ" | "STATS" | "UNSPECIFIED_PHASE";

export interface OrderablePlugin {
  name: string;
  namespace?: string;
  phase?: PluginPhase;
  priority?: number | null;
  /** RFC 3339 string, Date or epoch milliseconds. */
  creationTimestamp?: string | Date | number;
}

const PHASE_RANK: Record<PluginPhase, number> = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 };
const MIN_INT32 = -2147483648;

function time(t: OrderablePlugin["creationTimestamp"]): number {
  if (t === undefined) return 0;
  const ms = t instanceof Date ? t.getTime() : typeof t === "number" ? t : Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}

// Byte order, as Go compares strings.
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byCreation(a: OrderablePlugin, b: OrderablePlugin): number {
  return (
    time(a.creationTimestamp) - time(b.creationTimestamp) ||
    cmp(a.name, b.name) ||
    cmp(a.namespace ?? "", b.namespace ?? "")
  );
}

export function orderPlugins<T extends OrderablePlugin>(plugins: readonly T[]): T[] {
  return [...plugins]
    .sort(byCreation)
    .sort(
      (a, b) =>
        PHASE_RANK[a.phase ?? "UNSPECIFIED_PHASE"] - PHASE_RANK[b.phase ?? "UNSPECIFIED_PHASE"] ||
        (b.priority ?? MIN_INT32) - (a.priority ?? MIN_INT32),
    );
}
