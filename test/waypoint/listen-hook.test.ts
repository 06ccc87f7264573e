import assert from "node:assert/strict";
import type { Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { Waypoint } from "../../src/dataplane/waypoint/index.js";
import { testCa, workloadCert } from "../hbone/fixtures.js";
import { WAYPOINT_ID } from "./harness.js";

// data-plane.md §2.2: a waypoint runs as a pod; `ambit up` binds its 15008/15020/15021 inside the pod's netns, so
// the Waypoint must hand each listener and its configured port to a caller-supplied binder.
describe("Waypoint listen hook", () => {
  let wp: Waypoint;
  const asked: Array<[Server, number]> = [];

  before(async () => {
    const cert = await workloadCert(await testCa(), WAYPOINT_ID);
    wp = new Waypoint({
      certs: () => cert,
      port: 15008,
      metricsPort: 15020,
      readinessPort: 15021,
      listen: (server, port) =>
        new Promise<void>((resolve) => {
          asked.push([server, port]);
          server.listen(0, "127.0.0.1", () => resolve());
        }),
    });
    await wp.start();
  });

  after(() => wp.stop());

  it("every listener goes through the hook with its configured port", async () => {
    assert.deepEqual(
      asked.map(([, p]) => p),
      [15008, 15020, 15021],
    );
    const res = await fetch(`http://127.0.0.1:${wp.ports.readiness}/healthz/ready`);
    assert.equal(res.status, 503); // started but not configured yet
    await res.text();
    assert.ok(wp.ports.metrics > 0 && wp.ports.metrics !== 15020);
  });
});
