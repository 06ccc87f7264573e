// The waypoint the benchmarks put on the path: one HTTP Service behind a VIP with one HBONE endpoint, and an
// ALLOW policy (client principal, GET) so every request goes through L7 authorization.

import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { Waypoint } from "../../src/dataplane/waypoint/waypoint.js";
import type { MeshCa } from "../../src/identity/ca.js";
import { createCsr } from "../../src/identity/csr.js";
import type { WaypointL7Config } from "../../src/xds/waypoint-config.js";

export const WAYPOINT_ID = "spiffe://cluster.local/ns/bench/sa/waypoint";

/** A leaf certificate for `id` signed by the bench CA, as the HBONE code takes it. */
export async function benchCert(ca: MeshCa, id: string): Promise<CertSource> {
  const { keyPem, csrPem } = await createCsr(id);
  const chain = await ca.sign(csrPem, { node: "bench", identity: id });
  return { key: keyPem, cert: chain[0]!, ca: [ca.rootPem] };
}

export interface BenchWaypointOptions {
  cert: CertSource;
  /** Address the waypoint's HBONE listener binds (port: a free one). */
  host: string;
  /** Port the endpoint accepts HBONE on. */
  upstreamHbonePort: number;
  /** The Service VIP clients' CONNECT targets name, on port 80. */
  vip: string;
  endpoint: { address: string; identity: string; targetPort: number };
}

export function benchWaypointConfig(
  o: Omit<BenchWaypointOptions, "cert" | "host" | "upstreamHbonePort">,
): WaypointL7Config {
  return {
    waypoint: { namespace: "bench", name: "waypoint", identity: WAYPOINT_ID, trafficType: "service" },
    services: [
      {
        kind: "Service",
        namespace: "bench",
        name: "app",
        hostname: "app.bench.svc.cluster.local",
        vips: [o.vip],
        ports: [{ port: 80, targetPort: o.endpoint.targetPort, name: "http" }],
        endpoints: [
          {
            namespace: "bench",
            name: "app-5b9c7d8f4-abcde",
            address: o.endpoint.address,
            identity: o.endpoint.identity,
            labels: { app: "app" },
            healthy: true,
            hbone: true,
          },
        ],
      },
    ],
    workloads: [],
    authorizationPolicies: [
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: "allow-get", namespace: "bench" },
        spec: {
          targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
          rules: [
            {
              from: [{ source: { principals: ["cluster.local/ns/bench/sa/client"] } }],
              to: [{ operation: { methods: ["GET"] } }],
            },
          ],
        },
      },
    ],
    requestAuthentications: [],
    telemetries: [],
    wasmPlugins: [],
    httpRoutes: [],
    rootNamespace: "istio-system",
    trustDomain: "cluster.local",
  };
}

/** A started, configured waypoint with loopback admin ports; `ports.hbone` is where it listens. */
export async function startBenchWaypoint(o: BenchWaypointOptions): Promise<Waypoint> {
  const wp = new Waypoint({
    certs: () => o.cert,
    port: 0,
    host: o.host,
    metricsPort: 0,
    readinessPort: 0,
    adminHost: "127.0.0.1",
    upstreamHbonePort: o.upstreamHbonePort,
  });
  await wp.start();
  await wp.configure(benchWaypointConfig(o));
  return wp;
}
