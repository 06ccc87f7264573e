// The Wasm side of the waypoint tests: a mesh (./harness.ts) whose waypoint runs WasmPlugins through a
// WaypointWasm, with the example and test plugins built and named by file URL.

import { pathToFileURL } from "node:url";
import { buildExamples, buildTestPlugins } from "../../examples/wasm/build.js";
import type { WasmPlugin } from "../../src/api/resources.js";
import { WaypointWasm } from "../../src/dataplane/waypoint/wasm/index.js";
import type { WaypointService } from "../../src/xds/waypoint-config.js";
import { workloadCert } from "../hbone/fixtures.js";
import { GATEWAY_REF, type Mesh, service, startMesh, WAYPOINT_ID } from "./harness.js";

export interface WasmMesh {
  mesh: Mesh;
  wasm: WaypointWasm;
  /** reviews on 10.96.0.10 (pod reviews-v1) and ratings on 10.96.0.11 (pod ratings-v1). */
  services: WaypointService[];
  /** Plugin name → file URL of its built module. */
  urls: Record<string, string>;
}

/** Starts the mesh with pods reviews-v1 and ratings-v1; the plugins' log lines go to `logs` as "level plugin message". */
export async function startWasmMesh(logs: string[], baseDir?: string): Promise<WasmMesh> {
  const built = { ...(await buildExamples()), ...(await buildTestPlugins(["probe"])) };
  const urls = Object.fromEntries(Object.entries(built).map(([k, p]) => [k, pathToFileURL(p).href]));
  let wasm: WaypointWasm | undefined;
  const mesh = await startMesh(["reviews-v1", "ratings-v1"], { extensions: (c) => wasm!.extensions(c) });
  const cert = await workloadCert(mesh.ca, WAYPOINT_ID);
  wasm = new WaypointWasm({
    certs: () => cert,
    baseDir,
    metrics: mesh.waypoint.metrics,
    upstreamHbonePort: mesh.podHbonePort,
    log: (level, message, p) => logs.push(`${level} ${p} ${message}`),
  });
  const [reviews, ratings] = mesh.pods;
  const services = [service("reviews", "10.96.0.10", [reviews!]), service("ratings", "10.96.0.11", [ratings!])];
  return { mesh, wasm, services, urls };
}

/** A WasmPlugin of the default namespace attached to the waypoint (unless `spec` says otherwise), loading `url`. */
export function wasmPlugin(name: string, url: string | undefined, spec: Record<string, unknown>): WasmPlugin {
  return {
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: "default" },
    spec: { ...GATEWAY_REF, url, ...spec },
  };
}
