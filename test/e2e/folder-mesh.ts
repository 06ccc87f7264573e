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

/**
 * An ambient namespace with a `server` pod on node-2 answering `reply` on 8080 behind Service `server` (port 80),
 * and an idle `client` pod on node-1: the smallest folder where a call crosses nodes over HBONE.
 */
export function crossNodeFolder(namespace: string, reply: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata:
  name: server
  namespace: ${namespace}
  labels: {app: server}
spec:
  serviceAccountName: server
  nodeName: node-2
  containers:
  - name: main
    command: ["node", "-e", "require('http').createServer((q,s)=>s.end(${JSON.stringify(reply).replaceAll('"', "'")})).listen(8080)"]
    readinessProbe: {httpGet: {port: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: server
  namespace: ${namespace}
spec:
  selector: {app: server}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: ${namespace}
spec:
  serviceAccountName: client
  nodeName: node-1
  containers:
  - name: main
    command: ["sleep", "infinity"]
`;
}
