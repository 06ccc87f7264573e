// The waypoint the benchmarks put on the path: one HTTP Service behind a VIP with one HBONE endpoint, and an
// ALLOW policy (client principal, GET) so every request goes through L7 authorization; and its parts (Service,
// config, unstarted waypoint) for benchmarks that configure their own.

import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { Waypoint, type WaypointOptions } from "../../src/dataplane/waypoint/waypoint.js";
import type { MeshCa } from "../../src/identity/ca.js";
import { createCsr } from "../../src/identity/csr.js";
import type { WaypointL7Config, WaypointService } from "../../src/xds/waypoint-config.js";

export const WAYPOINT_ID = "spiffe://cluster.local/ns/bench/sa/waypoint";

/** A leaf certificate for `id` signed by the bench CA, as the HBONE code takes it. */
export async function benchCert(ca: MeshCa, id: string): Promise<CertSource> {
  const { keyPem, csrPem } = await createCsr(id);
  const chain = await ca.sign(csrPem, { node: "bench", identity: id });
  return { key: keyPem, cert: chain[0]!, ca: [ca.rootPem] };
}

/** Where a bench waypoint listens and where it reaches its endpoints. */
export interface BenchWaypointListen {
  cert: CertSource;
  /** Address the waypoint's HBONE listener binds (port: a free one). */
  host: string;
  /** Port the endpoint accepts HBONE on. */
  upstreamHbonePort: number;
}

export interface BenchEndpoint {
  address: string;
  identity: string;
  targetPort: number;
}

export interface BenchWaypointOptions extends BenchWaypointListen {
  /** The Service VIP clients' CONNECT targets name, on port 80. */
  vip: string;
  endpoint: BenchEndpoint;
}

/** Service `name` of the bench namespace on `vip`, port 80, with the one HBONE endpoint. */
export function benchService(name: string, vip: string, endpoint: BenchEndpoint): WaypointService {
  return {
    kind: "Service",
    namespace: "bench",
    name,
    hostname: `${name}.bench.svc.cluster.local`,
    vips: [vip],
    ports: [{ port: 80, targetPort: endpoint.targetPort, name: "http" }],
    endpoints: [
      {
        namespace: "bench",
        name: "app-5b9c7d8f4-abcde",
        address: endpoint.address,
        identity: endpoint.identity,
        labels: { app: "app" },
        healthy: true,
        hbone: true,
      },
    ],
  };
}

/** The bench waypoint's L7 config: nothing attached but `parts`. */
export function benchL7Config(parts: Partial<WaypointL7Config>): WaypointL7Config {
  return {
    waypoint: { namespace: "bench", name: "waypoint", identity: WAYPOINT_ID, trafficType: "service" },
    services: [],
    workloads: [],
    authorizationPolicies: [],
    requestAuthentications: [],
    telemetries: [],
    wasmPlugins: [],
    httpRoutes: [],
    rootNamespace: "istio-system",
    trustDomain: "cluster.local",
    ...parts,
  };
}

export function benchWaypointConfig(o: Pick<BenchWaypointOptions, "vip" | "endpoint">): WaypointL7Config {
  return benchL7Config({
    services: [benchService("app", o.vip, o.endpoint)],
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
  });
}

/** A bench waypoint with loopback admin ports on free ports, not yet started; `extra` adds or overrides options. */
export function newBenchWaypoint(o: BenchWaypointListen, extra: Partial<WaypointOptions> = {}): Waypoint {
  return new Waypoint({
    certs: () => o.cert,
    port: 0,
    host: o.host,
    metricsPort: 0,
    readinessPort: 0,
    adminHost: "127.0.0.1",
    upstreamHbonePort: o.upstreamHbonePort,
    ...extra,
  });
}

/** A started, configured waypoint with loopback admin ports; `ports.hbone` is where it listens. */
export async function startBenchWaypoint(o: BenchWaypointOptions): Promise<Waypoint> {
  const wp = newBenchWaypoint(o);
  await wp.start();
  await wp.configure(benchWaypointConfig(o));
  return wp;
}
