// One `LocalMesh` per test file, on a temp folder holding the file's manifests; stopped with a no-leftovers check.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalMesh, type LocalMeshOptions } from "../../src/local/local-mesh.js";
import type { StatePod } from "../../src/local/state-file.js";
import { leftovers } from "../../src/runtime/index.js";
import { cidrsFor, waitFor } from "./support.js";

export interface FolderMesh {
  dir: string;
  mesh: LocalMesh;
  /** A running pod by name (asserts it exists). */
  pod(name: string): StatePod;
  stop(): Promise<void>;
}

export async function startFolderMesh(
  yaml: string,
  prefix: string,
  cidrSalt: number,
  extra: Partial<LocalMeshOptions> = {},
): Promise<FolderMesh> {
  const dir = mkdtempSync(join(tmpdir(), "ambit-e2e-"));
  writeFileSync(join(dir, "folder.yaml"), yaml);
  const mesh = await LocalMesh.start({
    folder: dir,
    prefix,
    nodes: 2,
    ...cidrsFor(cidrSalt),
    debounceMs: 20,
    stateRoot: join(dir, "run"),
    logDir: join(dir, "logs"),
    ...extra,
  });
  return {
    dir,
    mesh,
    pod(name) {
      const p = mesh.state().pods.find((x) => x.name === name);
      assert.ok(p, `pod ${name} runs`);
      return p;
    },
    async stop() {
      await mesh.stop();
      assert.deepEqual(await leftovers(prefix), [], "nothing with the prefix is left");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `count` waypoints run and each answers its readiness probe. */
export async function waypointsReady(mesh: LocalMesh, count: number): Promise<void> {
  await waitFor(`${count} waypoint(s)`, () => mesh.state().waypoints.length === count);
  for (const wp of mesh.state().waypoints) {
    await waitFor(`${wp.name} ready`, async () => (await fetch(`http://${wp.readiness}/healthz/ready`)).ok);
  }
}
