// Shared helpers for the control-plane tests: the bookinfo example as a model, and decoding what a source holds.
import { readdirSync, readFileSync } from "node:fs";
import { loadManifests } from "../../src/api/load.js";
import type { KubeObject } from "../../src/api/resources.js";
import { MeshModel } from "../../src/mesh/model.js";
import { POLICY_SPEC_VALIDATORS } from "../../src/policy/validate.js";
import type { ResourceSource, VersionedResource } from "../../src/xds/types.js";

export function bookinfoObjects(): KubeObject[] {
  const dir = new URL("../../examples/bookinfo/", import.meta.url).pathname;
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ file: f, text: readFileSync(`${dir}${f}`, "utf8") }));
  return loadManifests(texts, POLICY_SPEC_VALIDATORS).objects;
}

export function bookinfoModel(): MeshModel {
  return MeshModel.build(bookinfoObjects());
}

export interface Recorded {
  typeUrl: string;
  upserted: string[];
  removed: string[];
}

/** Records every change a source emits, names sorted. */
export function record(source: ResourceSource): Recorded[] {
  const out: Recorded[] = [];
  source.subscribe((typeUrl, upserts: ReadonlyMap<string, VersionedResource>, removes) =>
    out.push({ typeUrl, upserted: [...upserts.keys()].sort(), removed: [...removes].sort() }),
  );
  return out;
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
