// `ambit check` output: the hop chain as short text for people, the same facts as JSON for scripts.
import type { HttpAttributes } from "../policy/request.js";
import type { Evaluated, PolicyLink, Verdict } from "./check-enforce.js";
import type { Simulation } from "./check-simulate.js";

export function policyText(p: PolicyLink): string {
  const action = p.action ? ` [${p.action}]` : "";
  const where = p.file ? ` (${p.file}${p.line ? `:${p.line}` : ""})` : "";
  return `${p.kind} ${p.namespace}/${p.name}${action}${where}`;
}

function evaluatedText(e: Evaluated): string {
  if (!e.policy) return `${e.phase}: ${e.reason}`;
  return `${policyText(e.policy)}: ${e.reason}`;
}

function outcome(v: Verdict): string {
  if (v.allowed) return "allowed";
  return v.status === null ? `denied: connection reset (${v.reason})` : `denied: ${v.status} ${v.reason}`;
}

function traceLines(v: Verdict, indent: string): string[] {
  if (v.trace.length === 0 && v.notes.length === 0) return [`${indent}(no policies) → ${outcome(v)}`];
  const lines = v.trace.map((e) => `${indent}${evaluatedText(e)}`);
  if (v.trace.length === 0) lines.push(`${indent}(no policies)`);
  lines.push(...v.notes.map((n) => `${indent}note: ${n}`));
  lines.push(`${indent}→ ${outcome(v)}`);
  return lines;
}

function sees(id: string | null): string {
  return id ? `sees identity ${id}` : "sees no identity (plaintext)";
}

function requestLine(s: Simulation): string {
  const r = s.route;
  const h = s.request.http;
  const from =
    r.source.identity && r.source.label.startsWith("pod ")
      ? `${r.source.label} (${r.source.identity})`
      : r.source.label;
  const t = r.target;
  const to =
    t.kind === "service"
      ? `${t.service.kind === "Service" ? "service" : "ServiceEntry"} ${t.service.namespace}/${t.service.name}:${t.port}`
      : `pod ${t.pod.namespace}/${t.pod.name}:${t.port}`;
  return `Request: ${h.method} ${h.path} from ${from} to ${to}`;
}

function shortName(p: PolicyLink): string {
  return `${p.kind} ${p.namespace}/${p.name}`;
}

function verdictLine(s: Simulation): string {
  if (s.allowed) return "Verdict: ALLOWED";
  const where =
    s.deniedAt === "waypoint" && s.waypoint
      ? `waypoint ${s.waypoint.waypoint.namespace}/${s.waypoint.waypoint.name}`
      : (s.deniedAt ?? "");
  const how = s.status === null ? "connection reset (no HTTP status)" : `HTTP ${s.status}`;
  let why: string;
  if (s.policy?.kind === "PeerAuthentication") why = `${shortName(s.policy)} refuses plaintext (mTLS STRICT)`;
  else if (s.policy) why = `${shortName(s.policy)}${s.rule !== null ? ` rule ${s.rule}` : ""} matched`;
  else if (s.unmatchedAllows.length > 0)
    why = `no ALLOW rule matched in ${s.unmatchedAllows.map(shortName).join(", ")}`;
  else why = s.reason;
  return `Verdict: DENIED at ${where} — ${how}, ${why}`;
}

export function renderText(s: Simulation): string {
  const lines = [requestLine(s), "Path:"];
  const src = s.route.source;
  let n = 1;
  const protocol = s.waypoint || s.destination?.pod.captured ? "HBONE" : "plain TCP (the destination is not captured)";
  if (src.captured) {
    const subject = src.label.startsWith("pod ") ? `pod is captured (${src.why})` : src.why;
    lines.push(`  ${n++}. source ztunnel — ${subject}: ${protocol}, identity ${src.identity}`);
  } else {
    lines.push(`  ${n++}. source ${src.label} is not captured (${src.why}): plaintext, no identity`);
  }
  if (s.waypoint) {
    const wp = s.waypoint;
    lines.push(`  ${n++}. waypoint ${wp.waypoint.namespace}/${wp.waypoint.name} — ${wp.why}`);
    lines.push(`     ${sees(wp.identitySeen)}`);
    lines.push(...traceLines(wp.verdict, "     "));
  } else if (s.route.noWaypoint) {
    lines.push(`     no waypoint — ${s.route.noWaypoint}`);
  }
  const d = s.destination;
  if (!d && s.route.external) {
    const hosts = s.route.external.map((h) => `${h}:${s.route.targetPort}`).join(", ");
    lines.push(`  ${n++}. external ${hosts} — outside the mesh: no destination ztunnel, no L4 policy`);
  } else if (!d) {
    lines.push(`  ${n++}. no endpoint — ${s.reason}`);
  } else {
    const pod = `pod ${d.pod.namespace}/${d.pod.name}:${d.port}`;
    const others =
      d.sameAsOthers + d.differing.length > 0
        ? ` (1 of ${1 + d.sameAsOthers + d.differing.length} endpoints${d.differing.length === 0 ? ", the others decide the same" : ""})`
        : "";
    if (!d.pod.captured) {
      lines.push(
        `  ${n++}. destination ${pod}${others} — not captured (${d.pod.captureReason}): no ztunnel, no L4 policy`,
      );
    } else if (!d.reached) {
      lines.push(`  ${n++}. destination ztunnel → ${pod} — not reached`);
    } else {
      lines.push(`  ${n++}. destination ztunnel → ${pod}${others} — ${sees(d.identitySeen)}`);
      lines.push(...traceLines(d.verdict!, "     "));
    }
    for (const o of d.differing) {
      lines.push(
        `     note: endpoint ${o.pod.namespace}/${o.pod.name} would be ${o.allowed ? "allowed" : "denied"} (ztunnel picks an endpoint at random)`,
      );
    }
  }
  lines.push(...s.notes.map((x) => `Note: ${x}`));
  lines.push(verdictLine(s));
  return `${lines.join("\n")}\n`;
}

/** Request mode (`--request`) as text: the one enforcement point's trace and decision. */
export function renderVerdictText(enforcement: string, v: Verdict): string {
  const lines = [`Enforcement: ${enforcement}`, ...v.trace.map((e) => `  ${evaluatedText(e)}`)];
  if (v.trace.length === 0) lines.push("  (no policies)");
  lines.push(...v.notes.map((n) => `  note: ${n}`));
  const how = v.status === null ? (v.allowed ? "" : ", connection reset") : `, ${v.status}`;
  lines.push(`Decision: ${v.allowed ? "ALLOW" : "DENY"}${how} (${v.reason})`);
  return `${lines.join("\n")}\n`;
}

function ref(p: PolicyLink | null): string | null {
  return p ? `${p.namespace}/${p.name}` : null;
}

export function evaluatedJson(e: Evaluated) {
  return {
    phase: e.phase,
    kind: e.policy?.kind ?? null,
    policy: ref(e.policy),
    action: e.policy?.action ?? null,
    file: e.policy?.file ?? null,
    line: e.policy?.line ?? null,
    matched: e.matched,
    rule: e.rule,
    dryRun: e.dryRun,
    reason: e.reason,
  };
}

/** The request-mode answer (`--request`), and the shape of each hop's decision in path mode. */
export function verdictJson(v: Verdict) {
  return {
    decision: v.allowed ? "ALLOW" : "DENY",
    status: v.status,
    policy: ref(v.policy),
    rule: v.rule,
    reason: v.reason,
    trace: v.trace.map(evaluatedJson),
    notes: v.notes,
  };
}

const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

/** Credentials never reach the output, even when the user typed them. */
function redacted(headers: HttpAttributes["headers"]): HttpAttributes["headers"] {
  const out: Record<string, string | readonly string[] | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADERS.has(k) ? "<redacted>" : v;
  return out;
}

export function renderJson(s: Simulation) {
  const r = s.route;
  const t = r.target;
  const hops: unknown[] = [
    {
      hop: "source",
      source: r.source.label,
      captured: r.source.captured,
      why: r.source.why,
      identity: r.source.identity,
    },
  ];
  if (s.waypoint) {
    hops.push({
      hop: "waypoint",
      waypoint: `${s.waypoint.waypoint.namespace}/${s.waypoint.waypoint.name}`,
      why: s.waypoint.why,
      identity: s.waypoint.identitySeen,
      ...verdictJson(s.waypoint.verdict),
    });
  }
  if (r.external) hops.push({ hop: "external", hosts: r.external, port: r.targetPort });
  if (s.destination) {
    const d = s.destination;
    hops.push({
      hop: "destination",
      pod: `${d.pod.namespace}/${d.pod.name}`,
      port: d.port,
      captured: d.pod.captured,
      reached: d.reached,
      identity: d.identitySeen,
      ...(d.verdict ? verdictJson(d.verdict) : { decision: d.reached ? "ALLOW" : null }),
      differingEndpoints: d.differing.map((o) => ({
        pod: `${o.pod.namespace}/${o.pod.name}`,
        decision: o.allowed ? "ALLOW" : "DENY",
      })),
    });
  }
  return {
    request: {
      from: r.source.label,
      to:
        t.kind === "service"
          ? `${t.service.kind === "Service" ? "service" : "serviceentry"}/${t.service.namespace}/${t.service.name}:${t.port}`
          : `pod/${t.pod.namespace}/${t.pod.name}:${t.port}`,
      http: { ...s.request.http, headers: redacted(s.request.http.headers) },
    },
    decision: s.allowed ? "ALLOW" : "DENY",
    status: s.status,
    deniedAt: s.deniedAt,
    policy: ref(s.policy),
    rule: s.rule,
    reason: s.reason,
    unmatchedAllowPolicies: s.unmatchedAllows.map(ref),
    noWaypoint: r.noWaypoint,
    hops,
    notes: s.notes,
  };
}
