// Reading manifest files: files, folders (recursively) and standard input (`-`).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { ManifestText } from "../api/load.js";

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

export interface ReadResult {
  texts: ManifestText[];
  unreadable: Array<{ path: string; error: string }>;
}

export function readManifestPaths(
  paths: ReadonlyArray<string>,
  stdin: () => string = () => readFileSync(0, "utf8"),
): ReadResult {
  const result: ReadResult = { texts: [], unreadable: [] };
  for (const path of paths) {
    if (path === "-") {
      result.texts.push({ file: "<stdin>", text: stdin() });
      continue;
    }
    try {
      collect(path, result, true);
    } catch (e) {
      result.unreadable.push({ path, error: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
  }
  return result;
}

/** Every manifest file below `dir`, sorted so loading order (and duplicate detection) is stable. */
export function manifestFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...manifestFiles(full));
    else if (entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name))) out.push(full);
  }
  return out;
}

function collect(path: string, result: ReadResult, explicit: boolean): void {
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const file of manifestFiles(path)) collect(file, result, false);
    return;
  }
  if (!explicit && !MANIFEST_EXTENSIONS.has(extname(path))) return;
  result.texts.push({ file: path, text: readFileSync(path, "utf8") });
}
