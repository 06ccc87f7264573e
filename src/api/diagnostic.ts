// A finding about the input, in `istioctl analyze` form: level, stable code, the object, the words, and where.

export type Level = "Error" | "Warning" | "Info";

export interface Diagnostic {
  level: Level;
  code: string;
  /** "Kind ns/name" or "Kind name" for cluster-scoped objects; empty for file-level problems. */
  resource: string;
  message: string;
  file?: string;
  line?: number;
}

const LEVEL_ORDER: Record<Level, number> = { Error: 0, Warning: 1, Info: 2 };

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] ||
    a.code.localeCompare(b.code) ||
    a.resource.localeCompare(b.resource) ||
    (a.file ?? "").localeCompare(b.file ?? "") ||
    (a.line ?? 0) - (b.line ?? 0) ||
    a.message.localeCompare(b.message)
  );
}

export function resourceName(kind: string, meta: { name: string; namespace?: string }): string {
  return meta.namespace ? `${kind} ${meta.namespace}/${meta.name}` : `${kind} ${meta.name}`;
}
