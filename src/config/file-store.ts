// A folder of Kubernetes YAML as a live config store. Changes are debounced and applied per file, atomically:
// a file that no longer parses keeps its last good objects, and an object that no longer validates keeps its last
// good version, so a typo never removes a policy that was being enforced (fail closed).
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { relative } from "node:path";
import type { Diagnostic } from "../api/diagnostic.js";
import { loadManifests } from "../api/load.js";
import type { KubeObject } from "../api/resources.js";
import type { SpecValidators } from "../api/validate.js";
import { manifestFiles } from "./files.js";
import { type ConfigStore, objectIdentity, type StatusUpdate, type StoreEvent, type StoreSnapshot } from "./store.js";

export interface FileStoreOptions {
  debounceMs?: number;
  /** Extra per-kind validation (the policy engine's admission rules). */
  specValidators?: SpecValidators;
}

export class FileStore implements ConfigStore {
  private readonly byFile = new Map<string, Map<string, KubeObject>>();
  private readonly diagnosticsByFile = new Map<string, Diagnostic[]>();
  private readonly listeners = new Set<(events: StoreEvent[], diagnostics: Diagnostic[]) => void>();
  private readonly pending = new Set<string>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  readonly statuses = new Map<string, StatusUpdate>();

  constructor(
    readonly dir: string,
    private readonly options: FileStoreOptions = {},
  ) {
    for (const file of manifestFiles(dir)) this.reload(file);
  }

  list(): StoreSnapshot {
    const objects = new Map<string, KubeObject>();
    for (const perFile of this.byFile.values()) for (const [id, o] of perFile) if (!objects.has(id)) objects.set(id, o);
    return { objects: [...objects.values()], diagnostics: [...this.diagnosticsByFile.values()].flat() };
  }

  watch(listener: (events: StoreEvent[], diagnostics: Diagnostic[]) => void): () => void {
    this.listeners.add(listener);
    if (!this.watcher) {
      this.watcher = watch(this.dir, { recursive: true }, () => this.schedule());
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  writeStatus(update: StatusUpdate): void {
    this.statuses.set(`${update.kind}/${update.namespace ?? ""}/${update.name}`, update);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    // fs.watch names files unreliably across editors' save strategies; rescan the folder instead.
    for (const f of manifestFiles(this.dir)) this.pending.add(f);
    for (const f of this.byFile.keys()) this.pending.add(f);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.options.debounceMs ?? 50);
  }

  private flush(): void {
    const files = [...this.pending];
    this.pending.clear();
    const before = this.list().objects;
    const beforeIds = new Map(before.map((o) => [objectIdentity(o), o]));
    const diagnostics: Diagnostic[] = [];
    for (const file of files) diagnostics.push(...this.reload(file));
    const after = this.list().objects;
    const afterIds = new Map(after.map((o) => [objectIdentity(o), o]));
    const events: StoreEvent[] = [];
    for (const [id, o] of afterIds) if (beforeIds.get(id) !== o) events.push({ type: "upsert", object: o });
    for (const [id, o] of beforeIds) {
      if (!afterIds.has(id))
        events.push({ type: "delete", kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
    }
    if (events.length === 0 && diagnostics.length === 0) return;
    for (const l of this.listeners) l(events, diagnostics);
  }

  /** Re-read one file; returns its new diagnostics. */
  private reload(file: string): Diagnostic[] {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      this.byFile.delete(file);
      this.diagnosticsByFile.delete(file);
      return [];
    }
    const shown = relative(process.cwd(), file) || file;
    const loaded = loadManifests([{ file: shown, text }], this.options.specValidators);
    const previous = this.byFile.get(file) ?? new Map<string, KubeObject>();
    if (loaded.syntaxErrors > 0 && previous.size > 0) {
      const kept = loaded.diagnostics.map((d) => ({
        ...d,
        message: `${d.message} (keeping the file's last good objects)`,
      }));
      this.diagnosticsByFile.set(file, kept);
      return kept;
    }
    const next = new Map<string, KubeObject>();
    for (const o of loaded.objects) {
      const id = objectIdentity(o);
      const old = previous.get(id);
      next.set(id, old && sameContent(old, o) ? old : o);
    }
    for (const r of loaded.rejected) {
      const id = `${r.kind}/${r.namespace ?? ""}/${r.name}`;
      const old = previous.get(id);
      if (old) next.set(id, old);
    }
    this.byFile.set(file, next);
    this.diagnosticsByFile.set(file, loaded.diagnostics);
    return loaded.diagnostics;
  }
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify({ ...a, source: undefined }) === JSON.stringify({ ...b, source: undefined });
}
