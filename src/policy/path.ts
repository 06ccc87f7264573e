// What a policy's `paths` compare against: Envoy's `url_path`, i.e. the normalized path without the query.
// Normalization modes and their exact steps: policy.md §1.10. Path templates `{*}`/`{**}`: policy.md §1.6.

export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";

/** Normalized path, or null when the proxy rejects the request with 400 (`%00`). */
export function normalizePath(raw: string, mode: PathNormalization = "BASE"): string | null {
  // One scan finds where the path ends (query or fragment) and whether it holds anything normalization rewrites
  // (`%`, `\`, `/.`, `//`); most request paths hold none and come back as they are.
  let end = raw.length;
  let plain = true;
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
    if (c === 0x25 || c === 0x5c || (prev === 0x2f && (c === 0x2e || c === 0x2f))) plain = false;
    prev = c;
  }
  let path = end === raw.length ? raw : raw.slice(0, end);
  if (mode === "NONE" || plain) return path;
  const merge = mode !== "BASE";
  if (mode === "DECODE_AND_MERGE_SLASHES") path = path.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  if (path.includes("%")) {
    if (/%00/.test(path)) return null;
    path = path.replace(/%([0-9a-fA-F]{2})/g, (whole, hex: string) => {
      const c = Number.parseInt(hex, 16);
      return isUnreserved(c) ? String.fromCharCode(c) : whole;
    });
  }
  path = path.replace(/\\/g, "/");
  if (merge) path = path.replace(/\/{2,}/g, "/");
  return removeDotSegments(path);
}

// RFC 3986 unreserved characters: ALPHA / DIGIT / "-" / "." / "_" / "~".
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

function removeDotSegments(path: string): string {
  if (!path.startsWith("/")) path = `/${path}`;
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === "." || seg === "..") {
      if (seg === ".." && out.length > 0) out.pop();
      if (last) out.push("");
      continue;
    }
    out.push(seg);
  }
  return `/${out.join("/")}`;
}

export function containsPathTemplate(value: string): boolean {
  return value.includes("{*}") || value.includes("{**}");
}

/** Why a path template is invalid (Istio's CheckValidPathTemplate rules), or undefined. */
export function pathTemplateError(value: string): string | undefined {
  const segments = value.split("/");
  let seenGlob = false;
  for (const seg of segments) {
    const hasOp = seg.includes("{*}") || seg.includes("{**}");
    if (seenGlob && hasOp) return "{**} must be the last operator in the path template";
    if (hasOp) {
      if (seg !== "{*}" && seg !== "{**}") return `path segment "${seg}" must consist of only one operator`;
      if (seg === "{**}") seenGlob = true;
      continue;
    }
    if (/[*{}]/.test(seg)) return `path segment "${seg}" contains an invalid character ('*', '{' or '}')`;
  }
  return undefined;
}

/** Envoy URI template: `{*}` = exactly one non-empty segment, `{**}` = zero or more characters including `/`. */
export function compilePathTemplate(value: string): RegExp {
  const body = value
    .split("/")
    .map((seg) => {
      if (seg === "{*}") return "[^/]+";
      if (seg === "{**}") return ".*";
      return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${body}$`);
}
