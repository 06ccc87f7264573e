// JWT claims as RBAC sees them (policy.md §1.7, §2.1): nested lookups with repeated brackets, string-or-list values,
// and the space-delimited claims (`scope`, `permission` + configured ones) split into lists.

export const DEFAULT_SPACE_DELIMITED = ["scope", "permission"] as const;

/** `[a][b.c]` → ["a", "b.c"]; undefined when the text is not a non-empty sequence of bracketed names. */
export function parseBracketPath(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== "[") return undefined;
    const close = text.indexOf("]", i + 1);
    if (close < 0) return undefined;
    const name = text.slice(i + 1, close);
    if (name.length === 0 || name.includes("[")) return undefined;
    out.push(name);
    i = close + 1;
  }
  return out.length > 0 ? out : undefined;
}

/** The value at a claim path; the top-level space-delimited claims come back as lists. */
export function claimAt(
  claims: Readonly<Record<string, unknown>> | undefined,
  path: readonly string[],
  spaceDelimited: ReadonlySet<string>,
): unknown {
  let v: unknown = claims;
  for (const name of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[name];
  }
  if (path.length === 1 && typeof v === "string" && spaceDelimited.has(path[0]!)) {
    return v.split(" ").filter((s) => s.length > 0);
  }
  return v;
}

/** A claim matches when it is a string that matches or a list holding a matching string; other types never match. */
export function claimMatches(value: unknown, test: (s: string) => boolean): boolean {
  if (typeof value === "string") return test(value);
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === "string" && test(item)) return true;
  }
  return false;
}
