import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { WaypointConfigSchema } from "../../src/xds/gen/ambit/waypoint/waypoint_pb.js";
import { MemorySource, waypointConfigResource, XdsClient, XdsServer } from "../../src/xds/index.js";
import { WAYPOINT_CONFIG_TYPE_URL } from "../../src/xds/types.js";
import type { WaypointL7Config } from "../../src/xds/waypoint-config.js";
import { ap, config, GATEWAY_REF, INVALID_REGEX_ROUTE, service, startMesh } from "./harness.js";

const REVIEWS = "10.96.0.10:9080";

async function ready(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz/ready`)).status;
}

function resource(c: WaypointL7Config | string, version: string) {
  return waypointConfigResource(
    create(WaypointConfigSchema, {
      name: "waypoint",
      namespace: "default",
      version,
      configJson: typeof c === "string" ? c : JSON.stringify(c),
    }),
  );
}

// Failure behaviour (brief §6): an unready waypoint refuses tunnels, drain finishes in-flight requests.
describe("waypoint lifecycle", () => {
  it("refuses tunnels and answers 503 on /healthz/ready until configured", async () => {
    const mesh = await startMesh(["reviews-v1"]);
    try {
      assert.equal(await ready(mesh.waypoint.ports.readiness), 503);
      await assert.rejects(mesh.tunnel(REVIEWS), { code: "AMBIT_HBONE_UNAVAILABLE" });
      await mesh.waypoint.configure(config([service("reviews", "10.96.0.10", mesh.pods)]));
      assert.equal(await ready(mesh.waypoint.ports.readiness), 200);
      assert.equal((await mesh.get(REVIEWS, "/")).status, 200);
    } finally {
      await mesh.close();
    }
  });

  it("drain: readiness drops, new tunnels are refused, the in-flight request completes", async () => {
    const mesh = await startMesh(["reviews-v1"]);
    try {
      await mesh.waypoint.configure(config([service("reviews", "10.96.0.10", mesh.pods)]));
      const readinessPort = mesh.waypoint.ports.readiness;
      mesh.pods[0]!.behaviour.delayMs = 300;
      const inflight = mesh.get(REVIEWS, "/slow");
      await new Promise((r) => setTimeout(r, 100));
      const drained = mesh.waypoint.drain(5_000);
      assert.equal(mesh.waypoint.ready, false);
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).path, "/slow");
      await drained;
      await assert.rejects(fetch(`http://127.0.0.1:${readinessPort}/healthz/ready`));
    } finally {
      await mesh.close();
    }
  });

  it("takes config from xDS; a broken update is NACKed and the previous policy stays enforced", async () => {
    const mesh = await startMesh(["reviews-v1"]);
    const source = new MemorySource();
    const server = new XdsServer({ source, pushWindowMs: 0 });
    const port = await server.start();
    const client = new XdsClient({
      address: `127.0.0.1:${port}`,
      typeUrls: [WAYPOINT_CONFIG_TYPE_URL],
      node: { id: "waypoint~default" },
      validate: mesh.waypoint.xdsValidator(),
    });
    mesh.waypoint.useXds(client, "default/waypoint");
    try {
      const denyAll = config([service("reviews", "10.96.0.10", mesh.pods)], {
        authorizationPolicies: [
          ap("allow-api", { ...GATEWAY_REF, rules: [{ to: [{ operation: { paths: ["/api"] } }] }] }),
        ],
      });
      const [name, r1] = resource(denyAll, "1");
      source.set(WAYPOINT_CONFIG_TYPE_URL, name, r1.version, r1.resource);
      const configured = once(mesh.waypoint, "configured");
      client.start();
      await configured;
      assert.equal((await mesh.get(REVIEWS, "/api")).status, 200);
      assert.equal((await mesh.get(REVIEWS, "/other")).status, 403);
      // A route with an invalid regex: the client NACKs it and keeps the first config.
      const broken = {
        ...denyAll,
        authorizationPolicies: [],
        httpRoutes: [INVALID_REGEX_ROUTE],
      };
      const [, r2] = resource(broken, "2");
      const nack = once(server, "nack");
      source.set(WAYPOINT_CONFIG_TYPE_URL, name, r2.version, r2.resource);
      const [ev] = (await nack) as [{ errorDetail?: { message?: string } }];
      assert.match(JSON.stringify(ev), /invalid regular expression/);
      assert.equal((await mesh.get(REVIEWS, "/other")).status, 403);
      assert.equal((await mesh.get(REVIEWS, "/api")).status, 200);
    } finally {
      await client.stop();
      await server.stop();
      await mesh.close();
    }
  });
});
