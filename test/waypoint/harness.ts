// A small ambient mesh on loopback for waypoint tests: destination "pods" (a plain HBONE server per pod IP on
// 127.77.0.x delivering to local HTTP/1.1, h2c and TCP apps), the waypoint under test, and a source "ztunnel"
// (an HbonePool dialing the waypoint with the client's identity).

import { once } from "node:events";
import { Agent, createServer as createH1, request as h1request, type IncomingMessage, type Server } from "node:http";
import { type ClientHttp2Session, createServer as createH2, type Http2Server, connect as h2connect } from "node:http2";
import { type AddressInfo, createServer as createTcp, type Server as TcpServer, connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import { HbonePool } from "../../src/dataplane/hbone/pool.js";
import { HboneServer } from "../../src/dataplane/hbone/server.js";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { socketLike } from "../../src/dataplane/waypoint/socket-like.js";
import { Waypoint, type WaypointOptions } from "../../src/dataplane/waypoint/waypoint.js";
import type { WaypointEndpoint, WaypointL7Config, WaypointService } from "../../src/xds/waypoint-config.js";
import { type TestCa, testCa, workloadCert } from "../hbone/fixtures.js";

export const TD = "cluster.local";
export const CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client";
export const WAYPOINT_ID = "spiffe://cluster.local/ns/default/sa/waypoint";
export const H1_PORT = 8080;
export const H2_PORT = 8081;
export const TCP_PORT = 9000;

export interface PodBehaviour {
  /** Status the HTTP/1.1 app answers with (default 200). */
  status: number;
  /** Milliseconds before answering. */
  delayMs: number;
}

export interface Pod {
  name: string;
  ip: string;
  identity: string;
  behaviour: PodBehaviour;
  /** Requests the apps received. */
  hits: number;
  endpoint(labels?: Record<string, string>): WaypointEndpoint;
}

function listen(server: Server | Http2Server | TcpServer): Promise<number> {
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
}

function closeServer(server: Server | Http2Server | TcpServer): Promise<void> {
  return new Promise((r) => {
    if ("closeAllConnections" in server) server.closeAllConnections();
    server.close(() => r());
  });
}

export interface Mesh {
  ca: TestCa;
  pods: Pod[];
  waypoint: Waypoint;
  pool: HbonePool;
  accessLog: string[];
  podHbonePort: number;
  /** HTTP/1.1 request through the waypoint to `target` (VIP:port). */
  get(
    target: string,
    path: string,
    opts?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<Reply>;
  /** An HTTP/2 session through one tunnel to `target`. */
  h2(target: string): Promise<ClientHttp2Session>;
  tunnel(target: string): Promise<Duplex>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

export async function startMesh(podNames: string[], waypointOpts: Partial<WaypointOptions> = {}): Promise<Mesh> {
  const ca = await testCa(TD);
  const accessLog: string[] = [];
  const pods: Pod[] = [];
  const closers: Array<() => Promise<void>> = [];
  let podHbonePort = 0;
  for (const [i, name] of podNames.entries()) {
    const pod: Pod = {
      name,
      ip: `127.77.0.${i + 2}`,
      identity: `spiffe://cluster.local/ns/default/sa/${name.split("-")[0]}`,
      behaviour: { status: 200, delayMs: 0 },
      hits: 0,
      endpoint(labels = {}) {
        return {
          namespace: "default",
          name: `${name}-5b9c7d8f4-abcde`,
          address: this.ip,
          identity: this.identity,
          labels: { app: name.split("-")[0]!, version: name.split("-")[1] ?? "v1", ...labels },
          healthy: true,
          hbone: true,
        };
      },
    };
    const h1 = createH1((req, res) => {
      pod.hits++;
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        setTimeout(() => {
          res.writeHead(pod.behaviour.status, { "content-type": "text/plain", "x-pod": name });
          res.end(
            JSON.stringify({
              pod: name,
              method: req.method,
              path: req.url,
              headers: req.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        }, pod.behaviour.delayMs);
      });
    });
    const h2 = createH2();
    h2.on("stream", (stream, headers) => {
      pod.hits++;
      stream.on("data", () => {});
      stream.on("end", () => {
        const grpc = String(headers["content-type"] ?? "").startsWith("application/grpc");
        stream.respond(
          { ":status": 200, "content-type": String(headers["content-type"] ?? "text/plain"), "x-pod": name },
          { waitForTrailers: grpc },
        );
        if (grpc) {
          stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "ok" }));
          // One length-prefixed gRPC message: uncompressed, 2 bytes.
          stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
        } else {
          stream.end(`h2 ${name} ${headers[":path"]}`);
        }
      });
    });
    const tcp = createTcp({ allowHalfOpen: true }, (s) => {
      pod.hits++;
      s.pipe(s);
    });
    const ports: Record<number, number> = {
      [H1_PORT]: await listen(h1),
      [H2_PORT]: await listen(h2),
      [TCP_PORT]: await listen(tcp),
    };
    const cert = await workloadCert(ca, pod.identity);
    const server = new HboneServer({
      port: podHbonePort,
      host: pod.ip,
      certs: () => cert,
      trustDomain: TD,
      connectUpstream: (info) =>
        new Promise<Duplex>((resolve, reject) => {
          const port = ports[info.target.port];
          if (port === undefined || info.target.host !== pod.ip) return reject(new Error("no such app port"));
          const s = tcpConnect({ host: "127.0.0.1", port, allowHalfOpen: true });
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        }),
    });
    await server.start();
    podHbonePort = server.port;
    pods.push(pod);
    closers.push(async () => {
      await server.stop();
      await Promise.all([closeServer(h1), closeServer(h2), closeServer(tcp)]);
    });
  }
  const wpCert: CertSource = await workloadCert(ca, WAYPOINT_ID);
  const waypoint = new Waypoint({
    certs: () => wpCert,
    trustDomain: TD,
    port: 0,
    host: "127.0.0.1",
    metricsPort: 0,
    readinessPort: 0,
    adminHost: "127.0.0.1",
    upstreamHbonePort: podHbonePort,
    accessLog: (l) => accessLog.push(l),
    ...waypointOpts,
  });
  await waypoint.start();
  const clientCert = await workloadCert(ca, CLIENT_ID);
  const pool = new HbonePool({ certs: () => clientCert });
  const tunnel = (target: string) =>
    pool.connect({ address: `127.0.0.1:${waypoint.ports.hbone}`, target, expectedIdentities: [WAYPOINT_ID] });
  const agents = new Map<string, Agent>();
  const agentFor = (target: string) => {
    let a = agents.get(target);
    if (!a) {
      a = new Agent({ keepAlive: true });
      (a as unknown as { createConnection: unknown }).createConnection = (
        _o: unknown,
        cb: (e: Error | null, s?: Duplex) => void,
      ) => {
        tunnel(target).then((t) => cb(null, socketLike(t)), cb);
        return undefined;
      };
      agents.set(target, a);
    }
    return a;
  };
  const sessions: ClientHttp2Session[] = [];
  return {
    ca,
    pods,
    waypoint,
    pool,
    accessLog,
    podHbonePort,
    tunnel,
    get(target, path, opts = {}) {
      return new Promise((resolve, reject) => {
        const req = h1request(
          { agent: agentFor(target), method: opts.method ?? "GET", path, headers: { host: target, ...opts.headers } },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => {
              body += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(opts.body);
      });
    },
    async h2(target) {
      const t = await tunnel(target);
      const s = h2connect(`http://${target}`, { createConnection: () => socketLike(t) });
      s.on("error", () => {});
      sessions.push(s);
      return s;
    },
    async close() {
      for (const a of agents.values()) a.destroy();
      await Promise.all(sessions.map((s) => (s.closed ? undefined : new Promise<void>((r) => s.close(() => r())))));
      await pool.close();
      await waypoint.stop();
      for (const c of closers) await c();
    },
  };
}

export function service(name: string, vip: string, pods: Pod[], extra: Partial<WaypointService> = {}): WaypointService {
  return {
    kind: "Service",
    namespace: "default",
    name,
    hostname: `${name}.default.svc.cluster.local`,
    vips: [vip],
    ports: [
      { port: 9080, targetPort: H1_PORT, name: "http" },
      { port: 9081, targetPort: H2_PORT },
      { port: 9000, targetPort: TCP_PORT, name: "tcp" },
    ],
    endpoints: pods.map((p) => p.endpoint()),
    ...extra,
  };
}

export function config(services: WaypointService[], extra: Partial<WaypointL7Config> = {}): WaypointL7Config {
  return {
    waypoint: { namespace: "default", name: "waypoint", identity: WAYPOINT_ID, trafficType: "service" },
    services,
    workloads: [],
    authorizationPolicies: [],
    requestAuthentications: [],
    telemetries: [],
    wasmPlugins: [],
    httpRoutes: [],
    rootNamespace: "istio-system",
    trustDomain: TD,
    ...extra,
  };
}

/** Sends one request on an HTTP/2 session; resolves with status, headers, body and trailers. */
export async function h2request(
  s: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ headers: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }> {
  const st = s.request(headers, { endStream: body === undefined });
  if (body) st.end(body);
  const chunks: Buffer[] = [];
  let trailers: Record<string, unknown> = {};
  st.on("trailers", (t) => {
    trailers = t;
  });
  st.on("data", (c: Buffer) => chunks.push(c));
  const [h] = (await once(st, "response")) as [Record<string, unknown>];
  if (!st.readableEnded) await once(st, "end");
  return { headers: h, body: Buffer.concat(chunks), trailers };
}

export function ap(
  name: string,
  spec: Record<string, unknown>,
  namespace = "default",
): WaypointL7Config["authorizationPolicies"][number] {
  return { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name, namespace }, spec };
}

export const GATEWAY_REF = { targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }] };

/** An HTTPRoute on reviews whose path regex does not compile: a config that carries it is refused whole. */
export const INVALID_REGEX_ROUTE: WaypointL7Config["httpRoutes"][number] = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name: "bad", namespace: "default" },
  spec: {
    parentRefs: [{ kind: "Service", group: "", name: "reviews" }],
    rules: [{ matches: [{ path: { type: "RegularExpression", value: "([" } }] }],
  },
};
