// Data-plane benchmark (L4), Istio's method on loopback: HTTP/1.1 keep-alive, 1 KiB responses, 4 connections, a
// fixed 1,000 req/s, then the maximum rate, then one new connection per request, direct (client → server) against the mesh path
// (client → ztunnel A → HBONE mTLS → ztunnel B → server), measured in the same run.
//   npm run bench:dataplane
//   DATAPLANE_BENCH_SECONDS=3 npm run bench:dataplane   (shorter phases)
// Each ztunnel and the origin run in their own child process so CPU is attributable: the children report
// process.cpuUsage() and RSS over IPC. Only 127.x loopback addresses are used. Numbers are noisy on a shared
// 2-core machine (the load generator, the origin and both ztunnels share it).

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer, Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { ProxyState } from "../src/dataplane/state/proxy-state.js";
import { workloadView } from "../src/dataplane/state/types.js";
import { Ztunnel } from "../src/dataplane/ztunnel/ztunnel.js";
import { MeshCa } from "../src/identity/ca.js";
import { CertificateManager } from "../src/identity/cert-manager.js";

const SECONDS = Number(process.env.DATAPLANE_BENCH_SECONDS ?? 5);
const CLIENT_IP = "127.78.1.10";
const SERVER_IP = "127.78.2.10";
const APP_PORT = 8080;
const CONNECTIONS = 4;
const FIXED_RPS = 1000;
const BODY = Buffer.alloc(1024, "x");

// ---------------------------------------------------------------- child roles

type Msg =
  | { op: "ready"; port?: number }
  | { op: "usage"; cpuMs: number; rssMb: number }
  | { op: "start"; caCert: string; caKey: string; hbonePort: number };

function send(m: Msg): void {
  process.send?.(m);
}

function answerUsage(): void {
  process.on("message", (m: { op: string }) => {
    if (m.op !== "usage") return;
    const u = process.cpuUsage();
    send({ op: "usage", cpuMs: (u.user + u.system) / 1000, rssMb: process.memoryUsage().rss / 2 ** 20 });
  });
}

async function originRole(): Promise<void> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(APP_PORT, SERVER_IP, r));
  answerUsage();
  send({ op: "ready" });
}

async function ztunnelRole(node: "a" | "b"): Promise<void> {
  const [m] = (await once(process, "message")) as [Extract<Msg, { op: "start" }>];
  const ca = await MeshCa.fromPem(m.caCert, m.caKey, { authorizer: () => true });
  const state = new ProxyState();
  state.update({
    workloads: {
      upsert: [
        workloadView({
          uid: "client",
          name: "client",
          namespace: "bench",
          serviceAccount: "client",
          addresses: [CLIENT_IP],
        }),
        workloadView({
          uid: "server",
          name: "server",
          namespace: "bench",
          serviceAccount: "server",
          addresses: [SERVER_IP],
        }),
      ],
    },
  });
  state.markSynced();
  const certs = new CertificateManager({
    client: { createCertificate: (csr, ttl, identity) => ca.sign(csr, { node, identity, ttlMs: ttl * 1000 }) },
  });
  const ztunnel = new Ztunnel({
    node,
    state,
    certificates: certs,
    hbonePort: m.hbonePort,
    ports: { admin: 0, metrics: 0, readiness: 0 },
    host: "127.0.0.1",
    accessLog: () => {},
  });
  await ztunnel.start();
  const uid = node === "a" ? "client" : "server";
  const ip = node === "a" ? CLIENT_IP : SERVER_IP;
  // Approach B of feasibility.md §3.3: the listener a connection arrives on names its original destination.
  const outbound = new Server({ allowHalfOpen: true });
  const plaintext = new Server({ allowHalfOpen: true });
  await ztunnel.addWorkload(
    uid,
    { outbound, inboundPlaintext: plaintext, hbone: { host: ip, port: m.hbonePort } },
    () => ({
      address: SERVER_IP,
      port: APP_PORT,
    }),
  );
  await certs.get(`spiffe://cluster.local/ns/bench/sa/${uid}`);
  let port: number | undefined;
  if (node === "a") {
    const capture = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => outbound.emit("connection", s));
    await new Promise<void>((r) => capture.listen(0, "127.0.0.1", r));
    port = (capture.address() as AddressInfo).port;
  }
  answerUsage();
  send({ op: "ready", ...(port !== undefined ? { port } : {}) });
}

// ---------------------------------------------------------------- load generator

const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nhost: ${SERVER_IP}\r\n\r\n`);

/** One keep-alive HTTP/1.1 connection that sends a request and resolves with the latency when the body is in. */
class HttpConn {
  readonly #s: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #want = -1;
  #done: ((ms: number) => void) | undefined;
  #t0 = 0;

  private constructor(s: Socket) {
    this.#s = s;
    s.setNoDelay(true);
    s.on("data", (d: Buffer) => this.#onData(d));
  }

  static open(port: number, host: string): Promise<HttpConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      s.once("connect", () => resolve(new HttpConn(s)));
      s.once("error", reject);
    });
  }

  request(): Promise<number> {
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#t0 = performance.now();
      this.#s.write(REQUEST);
    });
  }

  close(): void {
    this.#s.destroy();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    if (this.#want < 0) {
      const end = this.#buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(this.#buf.subarray(0, end).toString());
      this.#want = end + 4 + Number(m?.[1] ?? 0);
    }
    if (this.#buf.length < this.#want) return;
    this.#buf = this.#buf.subarray(this.#want);
    this.#want = -1;
    const done = this.#done;
    this.#done = undefined;
    done?.(performance.now() - this.#t0);
  }
}

interface RunResult {
  latencies: number[];
  requests: number;
  seconds: number;
}

/** `rps` undefined: closed loop (maximum rate); otherwise each connection paces itself to rps / connections. */
async function run(port: number, host: string, seconds: number, rps?: number): Promise<RunResult> {
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => HttpConn.open(port, host)));
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const interval = rps ? (1000 * CONNECTIONS) / rps : 0;
  await Promise.all(
    conns.map(async (c, i) => {
      let next = start + (interval * i) / CONNECTIONS;
      while (performance.now() < end) {
        if (interval) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += interval;
        }
        latencies.push(await c.request());
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  for (const c of conns) c.close();
  return { latencies, requests: latencies.length, seconds: elapsed };
}

const CLOSE_REQUEST = Buffer.from(`GET / HTTP/1.1\r\nhost: ${SERVER_IP}\r\nconnection: close\r\n\r\n`);

/** New TCP connection per request, closed loop on CONNECTIONS workers: the connection-setup cost (anchor 13). */
async function runChurn(port: number, host: string, seconds: number): Promise<RunResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const t0 = performance.now();
      const s = connect({ port, host });
      s.once("connect", () => s.end(CLOSE_REQUEST));
      s.resume();
      s.once("error", reject);
      s.once("close", () => {
        latencies.push(performance.now() - t0);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  return { latencies, requests: latencies.length, seconds: (performance.now() - start) / 1000 };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

// ---------------------------------------------------------------- parent

function child(role: string, ...args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), role, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

async function ready(c: ChildProcess): Promise<Extract<Msg, { op: "ready" }>> {
  for (;;) {
    const [m] = (await once(c, "message")) as [Msg];
    if (m.op === "ready") return m;
  }
}

async function usage(c: ChildProcess): Promise<{ cpuMs: number; rssMb: number }> {
  const reply = once(c, "message");
  c.send({ op: "usage" });
  const [m] = (await reply) as [Extract<Msg, { op: "usage" }>];
  return m;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function main(): Promise<void> {
  const ca = await MeshCa.generate({ authorizer: () => true });
  const caKey = await ca.exportRootKeyPem();
  const hbonePort = await freePort();
  const origin = child("origin");
  const zA = child("ztunnel", "a");
  const zB = child("ztunnel", "b");
  const children = [origin, zA, zB];
  try {
    await ready(origin);
    for (const z of [zA, zB]) z.send({ op: "start", caCert: ca.rootPem, caKey, hbonePort });
    const [a] = await Promise.all([ready(zA), ready(zB)]);
    const meshPort = a.port!;
    // Warm up both paths (TLS session, JIT).
    await run(APP_PORT, SERVER_IP, 1);
    await run(meshPort, "127.0.0.1", 1);

    const zCpu = async () => (await usage(zA)).cpuMs + (await usage(zB)).cpuMs;

    const fixedDirect = await run(APP_PORT, SERVER_IP, SECONDS, FIXED_RPS);
    const cpu0 = await zCpu();
    const fixedMesh = await run(meshPort, "127.0.0.1", SECONDS, FIXED_RPS);
    const cpu1 = await zCpu();
    const maxDirect = await run(APP_PORT, SERVER_IP, SECONDS);
    const cpu2 = await zCpu();
    const maxMesh = await run(meshPort, "127.0.0.1", SECONDS);
    const cpu3 = await zCpu();
    const churnSeconds = Math.max(2, Math.round(SECONDS / 2));
    const churnDirect = await runChurn(APP_PORT, SERVER_IP, churnSeconds);
    const cpu4 = await zCpu();
    const churnMesh = await runChurn(meshPort, "127.0.0.1", churnSeconds);
    const cpu5 = await zCpu();
    const [ua, ub] = [await usage(zA), await usage(zB)];

    const row = (name: string, d: RunResult, m: RunResult, p: number) => {
      const dv = pct(d.latencies, p);
      const mv = pct(m.latencies, p);
      return `  p${p}: direct ${(dv * 1000).toFixed(0)} µs, mesh ${(mv * 1000).toFixed(0)} µs, added ${((mv - dv) * 1000).toFixed(0)} µs (${name})`;
    };
    console.log(
      `dataplane L4 benchmark: HTTP/1.1 keep-alive, 1 KiB responses, ${CONNECTIONS} connections, ${SECONDS} s per phase`,
    );
    console.log(
      "path: client → ztunnel A (outbound) → HBONE mTLS h2 → ztunnel B (inbound) → server; ztunnels in child processes",
    );
    console.log(
      `fixed ${FIXED_RPS} req/s: achieved direct ${(fixedDirect.requests / fixedDirect.seconds).toFixed(0)}, mesh ${(fixedMesh.requests / fixedMesh.seconds).toFixed(0)} req/s`,
    );
    for (const p of [50, 90, 99]) console.log(row("fixed rate", fixedDirect, fixedMesh, p));
    const cpuPerK = (cpu1 - cpu0) / 1000 / (fixedMesh.requests / 1000);
    const vcpuPerK = (cpu1 - cpu0) / 1000 / fixedMesh.seconds / (fixedMesh.requests / fixedMesh.seconds / 1000);
    console.log(
      `  ztunnel CPU (A+B): ${cpuPerK.toFixed(3)} CPU-s per 1,000 requests = ${vcpuPerK.toFixed(3)} vCPU per 1,000 req/s (goal ≤ 0.15)`,
    );
    const dMax = maxDirect.requests / maxDirect.seconds;
    const mMax = maxMesh.requests / maxMesh.seconds;
    console.log(
      `max rate: direct ${dMax.toFixed(0)} req/s, mesh ${mMax.toFixed(0)} req/s, ratio ${(mMax / dMax).toFixed(2)}`,
    );
    for (const p of [50, 99]) console.log(row("max rate", maxDirect, maxMesh, p));
    console.log(
      `  ztunnel CPU at max rate (A+B): ${((cpu3 - cpu2) / 1000 / (maxMesh.requests / 1000)).toFixed(3)} CPU-s per 1,000 requests (idle ztunnels used ${((cpu2 - cpu1) / 1000).toFixed(2)} CPU-s during the direct phase)`,
    );
    const cDirect = churnDirect.requests / churnDirect.seconds;
    const cMesh = churnMesh.requests / churnMesh.seconds;
    console.log(
      `new connection per request: direct ${cDirect.toFixed(0)} conn/s, mesh ${cMesh.toFixed(0)} conn/s, ratio ${(cMesh / cDirect).toFixed(2)}; p50 direct ${(pct(churnDirect.latencies, 50) * 1000).toFixed(0)} µs, mesh ${(pct(churnMesh.latencies, 50) * 1000).toFixed(0)} µs; ztunnel CPU ${((cpu5 - cpu4) / churnMesh.requests).toFixed(3)} ms per connection (A+B)`,
    );
    console.log(`RSS: ztunnel A ${ua.rssMb.toFixed(0)} MiB, ztunnel B ${ub.rssMb.toFixed(0)} MiB`);
    console.log("goal: L4 p50 added < 300 µs at 1,000 req/s. Shared 2-core machine: expect 10-30 % run-to-run noise.");
  } finally {
    for (const c of children) c.kill();
  }
}

const role = process.argv[2];
if (role === "origin") await originRole();
else if (role === "ztunnel") await ztunnelRole(process.argv[3] === "b" ? "b" : "a");
else await main();
