// `ambit waypoint status`: istioctl waypoint status over the running mesh; Programmed comes from each waypoint's
// readiness endpoint. Real Waypoints (one configured, one not yet) and one that is gone.
// Spec: user-needs.md §2.1 (`NAME STATUS TYPE REASON MESSAGE`, NAMESPACE first with -A, padding 5).

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import type { RunningMesh, RunningWaypoint } from "../../src/cli/running-mesh.js";
import { Waypoint } from "../../src/dataplane/waypoint/waypoint.js";
import { testCa, workloadCert } from "../hbone/fixtures.js";
import { config, WAYPOINT_ID } from "../waypoint/harness.js";
import { freePort } from "../ztunnel/harness.js";
import { assertGolden } from "./golden.js";

describe("ambit waypoint status", () => {
  let runDir: string;
  const waypoints: Waypoint[] = [];
  let gonePort = 0;

  const start = async (configure: boolean) => {
    const cert = await workloadCert(await testCa(), WAYPOINT_ID);
    const w = new Waypoint({
      certs: () => cert,
      port: 0,
      host: "127.0.0.1",
      metricsPort: 0,
      readinessPort: 0,
      adminHost: "127.0.0.1",
      accessLog: () => {},
    });
    await w.start();
    if (configure) await w.configure(config([]));
    waypoints.push(w);
    return w;
  };

  const entry = (namespace: string, name: string, readinessPort: number): RunningWaypoint => ({
    namespace,
    name,
    pod: `${name}-6d8f9c7b5-q2w4e`,
    ip: "127.0.0.1",
    node: "node-a",
    metrics: "127.0.0.1:1",
    readiness: `127.0.0.1:${readinessPort}`,
  });

  before(async () => {
    runDir = mkdtempSync(join(tmpdir(), "ambit-wps-"));
    process.env.AMBIT_RUN_DIR = runDir;
    const ready = await start(true);
    const unconfigured = await start(false);
    gonePort = await freePort();
    const state: Partial<RunningMesh> = {
      prefix: "ambit",
      pid: process.pid,
      nodes: [],
      // Listed out of order: the table sorts by namespace, then name.
      waypoints: [
        entry("default", "waypoint", ready.ports.readiness),
        entry("bookinfo", "reviews-waypoint", unconfigured.ports.readiness),
        entry("bookinfo", "bookinfo-waypoint", ready.ports.readiness),
        entry("shop", "waypoint", gonePort),
      ],
    };
    mkdirSync(join(runDir, "ambit"), { recursive: true });
    writeFileSync(join(runDir, "ambit", "state.json"), JSON.stringify(state));
  });

  after(async () => {
    for (const w of waypoints) await w.stop();
    rmSync(runDir, { recursive: true, force: true });
  });

  // §2.1: a ready waypoint is Programmed=True with istiod's message naming its service on 15008.
  it("a ready waypoint is Programmed, in the default namespace by default", async () => {
    const r = await runCli(["waypoint", "status"]);
    assert.equal(r.exitCode, 0);
    assert.equal(
      r.stdout,
      "NAME         STATUS     TYPE           REASON         MESSAGE\n" +
        "waypoint     True       Programmed     Programmed     Resource programmed, assigned to service(s) waypoint.default.svc.cluster.local:15008\n",
    );
  });

  // Not ready (503 while it has no configuration) is Programmed=False, reason NotReady, with what the probe saw.
  it("-n: a waypoint without configuration is NotReady, with the readiness answer", async () => {
    const r = await runCli(["waypoint", "status", "-n", "bookinfo"]);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? "", /^bookinfo-waypoint\s+True\s+Programmed\s+Programmed\s/);
    assert.match(
      lines[2] ?? "",
      /^reviews-waypoint\s+False\s+Programmed\s+NotReady\s+waypoint pod reviews-waypoint-6d8f9c7b5-q2w4e is not ready: http:\/\/127\.0\.0\.1:\d+\/healthz\/ready answered 503$/,
    );
  });

  // §2.1 -A adds NAMESPACE first; a waypoint whose readiness port is closed is NotReady, unreachable.
  it("-A lists every namespace, sorted, with NAMESPACE first", async () => {
    const r = await runCli(["waypoint", "status", "-A"]);
    assert.equal(r.exitCode, 0);
    const normalised = r.stdout.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT");
    assertGolden("waypoint-status-all.txt", normalised);
    assert.match(r.stdout, new RegExp(`127\\.0\\.0\\.1:${gonePort}/healthz/ready unreachable: .*ECONNREFUSED`));
  });

  it("a namespace without waypoints prints istioctl's empty message", async () => {
    const r = await runCli(["waypoint", "status", "-n", "nowhere"]);
    assert.equal(r.stdout, "No waypoints found.\n");
  });

  it("no running mesh is an error (exit 1)", async () => {
    const r = await runCli(["waypoint", "status", "--prefix", "absent"]);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^Error: no running mesh \(run ambit up DIR\): .*absent\/state\.json does not exist\n$/);
  });
});
