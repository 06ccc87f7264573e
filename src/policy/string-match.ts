// Istio's string-value convention shared by every policy field: `*` = present, `*x` = suffix, `x*` = prefix,
// anything else (including a middle `*`) = exact. Source: policy.md §1.6, control-plane.md §8.4.

export type StringMatch =
  | { readonly kind: "exact"; readonly value: string }
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "suffix"; readonly value: string }
  | { readonly kind: "presence"; readonly value: "" };

export function parseStringMatch(v: string): StringMatch {
  if (v === "*") return { kind: "presence", value: "" };
  if (v.startsWith("*")) return { kind: "suffix", value: v.slice(1) };
  if (v.endsWith("*")) return { kind: "prefix", value: v.slice(0, -1) };
  return { kind: "exact", value: v };
}

/** `s === undefined` means the attribute is absent: no positive match of any kind. */
export function matchString(m: StringMatch, s: string | undefined): boolean {
  if (s === undefined) return false;
  switch (m.kind) {
    case "exact":
      return s === m.value;
    case "prefix":
      return s.startsWith(m.value);
    case "suffix":
      return s.endsWith(m.value);
    case "presence":
      return true;
  }
}

/** Envoy's `.+` for `*`: present and non-empty (principals, paths). */
export function matchStringNonEmpty(m: StringMatch, s: string | undefined): boolean {
  if (m.kind === "presence") return s !== undefined && s.length > 0;
  return matchString(m, s);
}

export function lowerMatch(m: StringMatch): StringMatch {
  return m.kind === "presence" ? m : { kind: m.kind, value: m.value.toLowerCase() };
}
