// The folder store: live changes as events, atomic per file, and a broken edit never removes what was enforced.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Diagnostic } from "../../src/api/diagnostic.js";
import { FileStore } from "../../src/config/file-store.js";
import type { StoreEvent } from "../../src/config/store.js";
import { POLICY_SPEC_VALIDATORS } from "../../src/policy/validate.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "ambit-store-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function nextBatch(store: FileStore): Promise<{ events: StoreEvent[]; diagnostics: Diagnostic[]; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const stop = store.watch((events, diagnostics) => {
      stop();
      resolve({ events, diagnostics, ms: performance.now() - started });
    });
  });
}

const NS = (labels: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n  labels: {${labels}}\n`;
const DENY = (paths: string) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: app}\nspec:\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        ports: [${paths}]\n`;

describe("file store", () => {
  test("lists every object in the folder, recursively", () => {
    const store = new FileStore(folder({ "ns.yaml": NS("a: b"), "p.yml": DENY("'80'") }));
    assert.deepEqual(
      store
        .list()
        .objects.map((o) => o.kind)
        .sort(),
      ["AuthorizationPolicy", "Namespace"],
    );
  });
  test("a label change in a watched file arrives as one upsert event", async () => {
    const dir = folder({ "ns.yaml": NS("a: b") });
    const store = new FileStore(dir, { debounceMs: 20 });
    const batch = nextBatch(store);
    writeFileSync(join(dir, "ns.yaml"), NS("istio.io/use-waypoint: wp"));
    const { events, ms } = await batch;
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, "upsert");
    assert.equal(events[0]?.type === "upsert" && events[0].object.metadata.labels?.["istio.io/use-waypoint"], "wp");
    assert.ok(ms < 1000, `took ${ms} ms`);
  });
  test("deleting a file deletes its objects", async () => {
    const dir = folder({ "ns.yaml": NS("a: b"), "p.yaml": DENY("'80'") });
    const store = new FileStore(dir, { debounceMs: 20 });
    const batch = nextBatch(store);
    unlinkSync(join(dir, "p.yaml"));
    const { events } = await batch;
    assert.deepEqual(events, [{ type: "delete", kind: "AuthorizationPolicy", namespace: "app", name: "deny" }]);
  });
  test("a file that no longer parses keeps its last good objects (fail closed) and reports the error", async () => {
    const dir = folder({ "p.yaml": DENY("'80'") });
    const store = new FileStore(dir, { debounceMs: 20 });
    const batch = nextBatch(store);
    writeFileSync(join(dir, "p.yaml"), "kind: AuthorizationPolicy\n  spec: : broken\n");
    const { events, diagnostics } = await batch;
    assert.deepEqual(events, []);
    assert.match(diagnostics[0]?.message ?? "", /keeping the file's last good objects/);
    assert.equal(store.list().objects.length, 1);
  });
  test("an object edited into an invalid one keeps its last good version; its neighbours still update", async () => {
    const dir = folder({ "all.yaml": `${NS("a: b")}---\n${DENY("'80'")}` });
    const store = new FileStore(dir, { debounceMs: 20, specValidators: POLICY_SPEC_VALIDATORS });
    const batch = nextBatch(store);
    writeFileSync(join(dir, "all.yaml"), `${NS("a: c")}---\n${DENY("'99999'")}`);
    const { events, diagnostics } = await batch;
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type === "upsert" && events[0].object.kind, "Namespace");
    const deny = store.list().objects.find((o) => o.kind === "AuthorizationPolicy");
    assert.deepEqual(
      (deny?.spec as { rules: Array<{ to: Array<{ operation: { ports: string[] } }> }> }).rules[0]?.to[0]?.operation
        .ports,
      ["80"],
    );
    assert.equal(diagnostics[0]?.code, "IST0106");
  });
});

describe("reading paths", () => {
  test("- reads standard input; folders are read recursively; a missing path is reported, not thrown", async () => {
    const { readManifestPaths } = await import("../../src/config/files.js");
    const dir = folder({ "a.yaml": NS("a: b") });
    const r = readManifestPaths(
      ["-", dir, join(dir, "missing.yaml")],
      () => "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
    );
    assert.deepEqual(
      r.texts.map((t) => t.file),
      ["<stdin>", join(dir, "a.yaml")],
    );
    assert.deepEqual(r.unreadable, [{ path: join(dir, "missing.yaml"), error: "ENOENT" }]);
  });
});
