// What an evaluator answers: allowed or not, with which status, the deciding policy and rule, and why.

export interface PolicyRef {
  namespace: string;
  name: string;
  file?: string;
  line?: number;
}

export type Phase = "CUSTOM" | "JWT" | "AUDIT" | "DENY" | "ALLOW";

export interface TraceEntry {
  phase: Phase;
  policy: PolicyRef | null;
  dryRun: boolean;
  matched: boolean;
  /** Index of the matching rule, or null. */
  rule: number | null;
  /** Why it matched or not, e.g. `rule 0: from[0].source.principals did not match`. */
  reason: string;
}

export interface Decision {
  allowed: boolean;
  /** 200, 401 or 403 at the waypoint (400 for a rejected path, or an ext_authz server's own status); null at L4. */
  status: number | null;
  policy: PolicyRef | null;
  rule: number | null;
  reason: string;
  /** Filled only when the caller asks for a trace; empty otherwise so the hot path does not allocate. */
  trace: TraceEntry[];
  /** An AUDIT policy that matched (it tags the request, it never changes the decision). */
  audit?: PolicyRef | null;
}

export const NO_TRACE: TraceEntry[] = Object.freeze([]) as unknown as TraceEntry[];
