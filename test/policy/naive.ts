// A straightforward interpreter of the policy subset the benchmark uses: it re-reads the policy objects for every
// request. It is the benchmark's baseline (bench/policy.ts) and a reference the compiled engine must agree with
// (rule-index.test.ts). Covers ALLOW/DENY, Service targets, principals, namespaces, ipBlocks (single addresses),
// requestPrincipals, methods, paths, and `when` on headers and claims; nothing else.

import type { AuthorizationPolicy, Rule } from "../../src/api/resources.js";
import type { L7Request } from "../../src/policy/request.js";

function strMatch(v: string, s: string | undefined, lower = false): boolean {
  if (s === undefined) return false;
  if (lower) {
    v = v.toLowerCase();
    s = s.toLowerCase();
  }
  if (v === "*") return true;
  if (v.startsWith("*")) return s.endsWith(v.slice(1));
  if (v.endsWith("*")) return s.startsWith(v.slice(0, -1));
  return s === v;
}

function naiveRule(r: Rule, q: L7Request): boolean {
  const principal = q.source.principal?.replace(/^spiffe:\/\//, "");
  const path = q.http?.path.split("?")[0];
  const claims = q.jwt?.valid ? q.jwt.claims : undefined;
  const fromOk =
    !r.from ||
    r.from.some(({ source: s = {} }) => {
      if (s.principals && !s.principals.some((v) => strMatch(v, principal))) return false;
      if (s.namespaces && !s.namespaces.some((v) => principal?.includes(`/ns/${v}/`))) return false;
      if (s.ipBlocks && !s.ipBlocks.some((v) => v.split("/")[0] === q.source.ip)) return false;
      if (
        s.requestPrincipals &&
        !s.requestPrincipals.some((v) => {
          const i = v.lastIndexOf("/");
          return strMatch(v.slice(0, i), claims?.iss as string) && strMatch(v.slice(i + 1), claims?.sub as string);
        })
      ) {
        return false;
      }
      return true;
    });
  if (!fromOk) return false;
  const toOk =
    !r.to ||
    r.to.some(({ operation: o = {} }) => {
      if (o.methods && !o.methods.some((v) => strMatch(v, q.http?.method))) return false;
      if (o.paths && !o.paths.some((v) => strMatch(v, path))) return false;
      return true;
    });
  if (!toOk) return false;
  return (r.when ?? []).every((w) => {
    let value: unknown;
    if (w.key.startsWith("request.headers[")) value = q.http?.headers[w.key.slice(16, -1).toLowerCase()];
    else value = claims?.[w.key.slice(20, -1)];
    const list = Array.isArray(value) ? value : [value];
    return (w.values ?? []).some((v) => list.some((x) => typeof x === "string" && strMatch(v, x)));
  });
}

export function naiveDecide(policies: AuthorizationPolicy[], q: L7Request): boolean {
  const applies = (p: AuthorizationPolicy) =>
    (p.spec?.targetRefs ?? []).some(
      (t) => t.kind !== "Service" || `${p.metadata.namespace}/${t.name}` === q.destination.service,
    );
  let allowExists = false;
  let allowMatched = false;
  for (const p of policies) {
    if (!applies(p)) continue;
    const matched = (p.spec?.rules ?? []).some((r) => naiveRule(r, q));
    if (p.spec?.action === "DENY" && matched) return false;
    if ((p.spec?.action ?? "ALLOW") === "ALLOW") {
      allowExists = true;
      allowMatched ||= matched;
    }
  }
  return !allowExists || allowMatched;
}
