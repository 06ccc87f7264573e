// A real gRPC client and server (@grpc/grpc-js) through the waypoint: the client's h2c connection is carried by the
// harness's source "ztunnel" (an HbonePool) to the waypoint, which sends it on over HBONE to a pod whose app is a
// grpc-js server. No generated code: the service is a hand-written definition with JSON serializers.

import assert from "node:assert/strict";
import { type AddressInfo, createServer as createTcp, type Server as TcpServer, connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { HboneServer } from "../../src/dataplane/hbone/server.js";
import type { WaypointService } from "../../src/xds/waypoint-config.js";
import { workloadCert } from "../hbone/fixtures.js";
import { ap, config, GATEWAY_REF, type Mesh, startMesh, TD } from "./harness.js";

const VIP = "10.96.0.20";
const SVC_PORT = 9090;
const APP_PORT = 50051;
const POD_IP = "127.77.0.20";
const POD_ID = "spiffe://cluster.local/ns/default/sa/greeter";
const HOST = "greeter.default.svc.cluster.local";

type Msg = Record<string, unknown>;
const json = {
  serialize: (v: Msg) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as Msg,
};
function unary(path: string) {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  } as const;
}
const DEFINITION = {
  Hello: unary("/pkg.Svc/Hello"),
  Denied: unary("/pkg.Svc/Denied"),
  Fail: unary("/pkg.Svc/Fail"),
};
const Client = grpc.makeGenericClientConstructor(DEFINITION, "Svc");
type Unary = (req: Msg, cb: (err: grpc.ServiceError | null, res?: Msg) => void) => grpc.ClientUnaryCall;

/** Resolves with the response or the ServiceError of one unary call. */
function call(client: grpc.Client, method: keyof typeof DEFINITION, req: Msg): Promise<Msg | grpc.ServiceError> {
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve) => fn(req, (err, res) => resolve(err ?? res ?? {})));
}

function listenTcp(server: TcpServer): Promise<number> {
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)));
}

/**
 * The source side of the mesh for an unmodified gRPC client: each connection accepted on a loopback port is spliced
 * into its own HBONE tunnel to the waypoint with `:authority` = `target`, as ztunnel does for captured traffic.
 */
async function sourceTunnel(mesh: Mesh, target: string): Promise<{ port: number; close: () => Promise<void> }> {
  const open = new Set<Duplex>();
  const server = createTcp({ allowHalfOpen: true }, (sock) => {
    open.add(sock);
    sock.once("close", () => open.delete(sock));
    sock.on("error", () => sock.destroy());
    mesh.tunnel(target).then(
      (t) => {
        open.add(t);
        t.once("close", () => open.delete(t));
        t.on("error", () => sock.destroy());
        sock.once("close", () => t.destroy());
        t.once("close", () => sock.destroy());
        sock.pipe(t);
        t.pipe(sock);
      },
      () => sock.destroy(),
    );
  });
  const port = await listenTcp(server);
  return {
    port,
    close: () =>
      new Promise((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Parses the Prometheus text format into samples (as test/waypoint/telemetry.test.ts does). */
async function scrape(mesh: Mesh): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
  const res = await fetch(`http://127.0.0.1:${mesh.waypoint.ports.metrics}/metrics`);
  assert.equal(res.status, 200);
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

// data-plane.md §3.5: gRPC is HTTP/2 inside the tunnel; the waypoint proxies it as HTTP with L7 policy and metrics.
describe("waypoint with a real gRPC client and server", () => {
  let mesh: Mesh;
  let pod: HboneServer;
  let server: grpc.Server;
  let source: { port: number; close: () => Promise<void> };
  let client: grpc.Client;
  const calls: string[] = [];

  before(async () => {
    // The harness's pod only fixes the shared pod HBONE port; the gRPC pod is added beside it on its own IP.
    mesh = await startMesh(["reviews-v1"]);
    server = new grpc.Server();
    server.addService(DEFINITION, {
      Hello: (c: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        calls.push("Hello");
        cb(null, { greeting: `hello ${String(c.request.name)}` });
      },
      Denied: (_c: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        calls.push("Denied");
        cb(null, {});
      },
      Fail: (_c: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        calls.push("Fail");
        const metadata = new grpc.Metadata();
        metadata.set("x-reason", "out-of-stock");
        cb({ code: grpc.status.FAILED_PRECONDITION, details: "no widgets: try later", metadata });
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const cert = await workloadCert(mesh.ca, POD_ID);
    pod = new HboneServer({
      port: mesh.podHbonePort,
      host: POD_IP,
      certs: () => cert,
      trustDomain: TD,
      connectUpstream: (info) =>
        new Promise<Duplex>((resolve, reject) => {
          if (info.target.port !== APP_PORT || info.target.host !== POD_IP) return reject(new Error("no such app"));
          const s = tcpConnect({ host: "127.0.0.1", port: grpcPort, allowHalfOpen: true });
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        }),
    });
    await pod.start();
    const greeter: WaypointService = {
      kind: "Service",
      namespace: "default",
      name: "greeter",
      hostname: HOST,
      vips: [VIP],
      ports: [{ port: SVC_PORT, targetPort: APP_PORT, name: "grpc" }],
      endpoints: [
        {
          namespace: "default",
          name: "greeter-v1-5b9c7d8f4-abcde",
          address: POD_IP,
          identity: POD_ID,
          labels: { app: "greeter", version: "v1" },
          healthy: true,
          hbone: true,
        },
      ],
    };
    await mesh.waypoint.configure(
      config([greeter], {
        authorizationPolicies: [
          ap("deny-method", {
            ...GATEWAY_REF,
            action: "DENY",
            rules: [{ to: [{ operation: { paths: ["/pkg.Svc/Denied"] } }] }],
          }),
        ],
      }),
    );
    source = await sourceTunnel(mesh, `${VIP}:${SVC_PORT}`);
    // The app dials the Service name, so that is its :authority; the connection itself goes to the source tunnel.
    client = new Client(`127.0.0.1:${source.port}`, grpc.credentials.createInsecure(), {
      "grpc.default_authority": `${HOST}:${SVC_PORT}`,
    });
  });

  after(async () => {
    client.close();
    await source.close();
    await mesh.close();
    await pod.stop();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  });

  it("a unary call succeeds; metrics say request_protocol=grpc and grpc_response_status=0", async () => {
    const res = await call(client, "Hello", { name: "mesh" });
    assert.deepEqual(res, { greeting: "hello mesh" });
    const samples = await scrape(mesh);
    const req = samples.find((s) => s.name === "istio_requests_total" && s.labels.destination_service === HOST);
    assert.ok(req, "istio_requests_total for greeter");
    assert.equal(req.labels.request_protocol, "grpc");
    assert.equal(req.labels.grpc_response_status, "0");
    assert.equal(req.labels.response_code, "200");
    assert.equal(req.value, 1);
  });

  // policy.md: a DENY on the method path is answered by the waypoint as gRPC PERMISSION_DENIED; the app never sees it.
  it("an AuthorizationPolicy denying /pkg.Svc/Denied makes the client see PERMISSION_DENIED", async () => {
    const before = calls.length;
    const err = (await call(client, "Denied", {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.PERMISSION_DENIED);
    assert.equal(calls.length, before);
    const samples = await scrape(mesh);
    assert.ok(
      samples.some(
        (s) =>
          s.name === "istio_requests_total" &&
          s.labels.request_protocol === "grpc" &&
          s.labels.grpc_response_status === "7",
      ),
    );
  });

  // gRPC's PROTOCOL-HTTP2.md: grpc-message percent-encodes only bytes outside 0x20-0x7E and '%' (grpc-js decodes
  // it with decodeURI, so an escaped ':' would reach the client as "%3A").
  it('the denial\'s message reads "RBAC: access denied" at the client', async () => {
    const err = (await call(client, "Denied", {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err.details, "RBAC: access denied");
  });

  it("a server-side error status, message and trailing metadata reach the client unchanged", async () => {
    const err = (await call(client, "Fail", {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, "no widgets: try later");
    assert.deepEqual(err.metadata.get("x-reason"), ["out-of-stock"]);
    assert.equal(calls.at(-1), "Fail");
    // The channel is still usable after an error status.
    assert.deepEqual(await call(client, "Hello", { name: "again" }), { greeting: "hello again" });
  });
});
