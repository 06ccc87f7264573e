// YAML text → Kubernetes-style objects that remember their file and line. Pure: no file system here.
import { isMap, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { Codes } from "./codes.js";
import type { Diagnostic } from "./diagnostic.js";
import type { KubeObject, SourceRef } from "./resources.js";

/** Paths whose lines diagnostics point at after loading (the rest only need the object's line). */
const REMEMBERED_PATHS: ReadonlyArray<ReadonlyArray<string>> = [
  ["metadata", "labels"],
  ["spec", "targetRefs"],
  ["spec", "targetRef"],
  ["spec", "selector"],
  ["spec", "rules"],
  ["spec", "listeners"],
];

export interface RawObject {
  value: unknown;
  source: SourceRef;
  /** Line of any dotted path inside the object (falls back to the nearest existing parent). */
  lineOf(path: string): number;
}

export interface ParseResult {
  objects: RawObject[];
  diagnostics: Diagnostic[];
  syntaxErrors: number;
}

export function parseManifests(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const result: ParseResult = { objects: [], diagnostics: [], syntaxErrors: 0 };
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;

  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        result.syntaxErrors++;
        result.diagnostics.push({
          level: "Error",
          code: Codes.YamlSyntaxError,
          resource: "",
          message: `YAML syntax error: ${err.message.split("\n")[0]}`,
          file,
          line: err.linePos?.[0]?.line ?? lineAt(err.pos[0]),
        });
      }
      continue;
    }
    const root = doc.contents;
    if (root === null) continue;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;

    const kind = isPlainObject(value) ? value.kind : undefined;
    if (typeof kind === "string" && kind.endsWith("List") && isPlainObject(value) && Array.isArray(value.items)) {
      const itemsNode = isMap(root) ? root.get("items", true) : undefined;
      value.items.forEach((item: unknown, i: number) => {
        const node = isSeq(itemsNode) ? (itemsNode.items[i] as Node | undefined) : undefined;
        result.objects.push(makeRaw(item, node ?? root, file, lineAt));
      });
      continue;
    }
    result.objects.push(makeRaw(value, root, file, lineAt));
  }
  return result;
}

function makeRaw(value: unknown, node: Node, file: string, lineAt: (offset: number) => number): RawObject {
  const nodeLine = (n: unknown): number | undefined => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range ? lineAt(range[0]) : undefined;
  };
  const objectLine = nodeLine(node) ?? 1;
  const lookup = (path: ReadonlyArray<string>): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const n = descend(node, path.slice(0, depth));
      const line = n === undefined ? undefined : (keyLine(node, path.slice(0, depth), lineAt) ?? nodeLine(n));
      if (line !== undefined) return line;
    }
    return undefined;
  };
  const fieldLines = new Map<string, number>();
  for (const path of REMEMBERED_PATHS) {
    const base = descend(node, path);
    if (base === undefined) continue;
    const line = lookup(path);
    if (line !== undefined) fieldLines.set(path.join("."), line);
    const children = isSeq(base) ? base.items.map((_, i) => String(i)) : isMap(base) ? mapKeys(base) : [];
    for (const child of children) {
      const childLine = lookup([...path, child]);
      if (childLine !== undefined) fieldLines.set([...path, child].join("."), childLine);
    }
  }
  return {
    value,
    source: { file, line: objectLine, fieldLines },
    lineOf: (path: string) => lookup(path === "" ? [] : path.split(".")) ?? objectLine,
  };
}

function mapKeys(map: Node): string[] {
  if (!isMap(map)) return [];
  return map.items.map((pair) => String((pair.key as { value?: unknown } | null)?.value ?? pair.key));
}

function descend(node: Node, path: ReadonlyArray<string>): Node | undefined {
  let current: unknown = node;
  for (const segment of path) {
    if (isMap(current)) current = current.get(segment, true);
    else if (isSeq(current)) current = current.items[Number(segment)];
    else return undefined;
    if (current === undefined || current === null) return undefined;
  }
  return current as Node;
}

/** The line of the key naming the last path segment, which is where a reader looks for a field. */
function keyLine(root: Node, path: ReadonlyArray<string>, lineAt: (o: number) => number): number | undefined {
  if (path.length === 0) return undefined;
  const parent = descend(root, path.slice(0, -1));
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === last);
  const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
  return range ? lineAt(range[0]) : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export type { KubeObject };
