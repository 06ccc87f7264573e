// Data-plane benchmark, Istio's method on loopback: HTTP/1.1 keep-alive, 1 KiB responses, 4 connections, a fixed
// 1,000 req/s, then the maximum rate, then one new connection per request. Four paths measured in the same run:
//   direct  client → server
//   L4      client → ztunnel A (outbound) → HBONE mTLS → ztunnel B (inbound) → server
//   L7      client → ztunnel A → HBONE → waypoint (HTTP, L7 authorization) → HBONE → ztunnel B → server
//   nginx   client → nginx (reverse proxy, 1 worker, upstream keep-alive) → server, for scale; skipped when absent
//   npm run bench:dataplane
//   DATAPLANE_BENCH_SECONDS=10 npm run bench:dataplane   (longer phases; default 5 s, about a minute in all)
// Each ztunnel, the waypoint and the origin run in their own child process so CPU is attributable: they report
// process.cpuUsage() and RSS over IPC; nginx's master and worker are read from /proc. Only 127.x loopback
// addresses are used. Numbers are noisy on a shared 2-core machine (the load generator, the origin and every
// proxy share it, and so do other people's processes).

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer, Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { ProxyState } from "../src/dataplane/state/proxy-state.js";
import { serviceView, workloadView } from "../src/dataplane/state/types.js";
import { Ztunnel } from "../src/dataplane/ztunnel/ztunnel.js";
import { MeshCa } from "../src/identity/ca.js";
import { CertificateManager } from "../src/identity/cert-manager.js";
import { freePort } from "./lib/net.js";
import { findNginx, type NginxProxy, startNginx } from "./lib/nginx.js";
import { pct } from "./lib/stats.js";
import { benchCert, startBenchWaypoint, WAYPOINT_ID } from "./lib/waypoint.js";

const SECONDS = Number(process.env.DATAPLANE_BENCH_SECONDS ?? 5);
const CLIENT_IP = "127.78.1.10";
const SERVER_IP = "127.78.2.10";
const WAYPOINT_IP = "127.78.3.10";
/** The Service VIP the L7 path dials; nothing listens on it: ztunnel A sends it to the waypoint as the target. */
const VIP = "127.78.4.1";
const APP_PORT = 8080;
const SERVER_ID = "spiffe://cluster.local/ns/bench/sa/server";
const CONNECTIONS = 4;
const FIXED_RPS = 1000;
const BODY = Buffer.alloc(1024, "x");
const FIXED = FIXED_RPS.toLocaleString("en-US");

// ---------------------------------------------------------------- child roles

interface StartMsg {
  op: "start";
  caCert: string;
  caKey: string;
  hbonePort: number;
  waypointPort: number;
}

type Msg = { op: "ready"; ports?: number[] } | { op: "usage"; cpuMs: number; rssMb: number } | StartMsg;

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

async function waypointRole(): Promise<void> {
  const [m] = (await once(process, "message")) as [StartMsg];
  const ca = await MeshCa.fromPem(m.caCert, m.caKey, { authorizer: () => true });
  const wp = await startBenchWaypoint({
    cert: await benchCert(ca, WAYPOINT_ID),
    host: WAYPOINT_IP,
    upstreamHbonePort: m.hbonePort,
    vip: VIP,
    endpoint: { address: SERVER_IP, identity: SERVER_ID, targetPort: APP_PORT },
  });
  answerUsage();
  send({ op: "ready", ports: [wp.ports.hbone] });
}

/** Both nodes hold the same view: client, server (behind Service `app`, whose waypoint is at WAYPOINT_IP), waypoint. */
function meshState(waypointPort: number): ProxyState {
  const app = serviceView({
    name: "app",
    namespace: "bench",
    addresses: [{ network: "", address: VIP }],
    ports: [{ servicePort: 80, targetPort: APP_PORT }],
    waypoint: { address: { network: "", address: WAYPOINT_IP }, hboneMtlsPort: waypointPort },
  });
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
          services: { [`bench/${app.hostname}`]: [{ servicePort: 80, targetPort: APP_PORT }] },
        }),
        workloadView({
          uid: "waypoint",
          name: "waypoint",
          namespace: "bench",
          serviceAccount: "waypoint",
          addresses: [WAYPOINT_IP],
        }),
      ],
    },
    services: { upsert: [app] },
  });
  state.markSynced();
  return state;
}

async function ztunnelRole(node: "a" | "b"): Promise<void> {
  const [m] = (await once(process, "message")) as [StartMsg];
  const ca = await MeshCa.fromPem(m.caCert, m.caKey, { authorizer: () => true });
  const certs = new CertificateManager({
    client: { createCertificate: (csr, ttl, identity) => ca.sign(csr, { node, identity, ttlMs: ttl * 1000 }) },
  });
  const ztunnel = new Ztunnel({
    node,
    state: meshState(m.waypointPort),
    certificates: certs,
    hbonePort: m.hbonePort,
    ports: { admin: 0, metrics: 0, readiness: 0 },
    host: "127.0.0.1",
    accessLog: () => {},
  });
  await ztunnel.start();
  const uid = node === "a" ? "client" : "server";
  const ip = node === "a" ? CLIENT_IP : SERVER_IP;
  // Approach B of feasibility.md §3.3: the listener a connection arrives on names its original destination, here
  // the pod IP (L4 path) or the Service VIP (L7 path).
  let vipPort = -1;
  const outbound = new Server({ allowHalfOpen: true });
  const plaintext = new Server({ allowHalfOpen: true });
  await ztunnel.addWorkload(
    uid,
    { outbound, inboundPlaintext: plaintext, hbone: { host: ip, port: m.hbonePort } },
    (s) => (s.localPort === vipPort ? { address: VIP, port: 80 } : { address: SERVER_IP, port: APP_PORT }),
  );
  await certs.get(`spiffe://cluster.local/ns/bench/sa/${uid}`);
  const ports: number[] = [];
  if (node === "a") {
    for (let i = 0; i < 2; i++) {
      const capture = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) =>
        outbound.emit("connection", s),
      );
      await new Promise<void>((r) => capture.listen(0, "127.0.0.1", r));
      ports.push((capture.address() as AddressInfo).port);
    }
    vipPort = ports[1]!;
  }
  answerUsage();
  send({ op: "ready", ports });
}

// ---------------------------------------------------------------- load generator

const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nhost: ${SERVER_IP}\r\n\r\n`);

/** One keep-alive HTTP/1.1 connection that sends a request and resolves with the latency when the body is in. */
class HttpConn {
  readonly #s: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #want = -1;
  #done: ((ms: number) => void) | undefined;
  #fail: ((e: Error) => void) | undefined;
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
    return new Promise((resolve, reject) => {
      this.#done = resolve;
      this.#fail = reject;
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
      const head = this.#buf.subarray(0, end).toString();
      const m = /content-length:\s*(\d+)/i.exec(head);
      // A denial or a re-framed body would make the numbers meaningless: fail the run instead.
      if (!head.startsWith("HTTP/1.1 200") || !m) {
        this.#s.destroy();
        this.#fail?.(new Error(`unexpected response: ${head.split("\r\n")[0]}`));
        return;
      }
      this.#want = end + 4 + Number(m[1]);
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

// ---------------------------------------------------------------- parent

function child(role: string, ...args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), role, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

async function ready(c: ChildProcess): Promise<number[]> {
  for (;;) {
    const [m] = (await once(c, "message")) as [Msg];
    if (m.op === "ready") return m.ports ?? [];
  }
}

/** A proxy process (or nginx's master + worker) whose CPU time and RSS we read. */
interface Meter {
  name: string;
  usage(): Promise<{ cpuMs: number; rssMb: number }>;
}

function ipcMeter(name: string, c: ChildProcess): Meter {
  return {
    name,
    async usage() {
      const reply = once(c, "message");
      c.send({ op: "usage" });
      const [m] = (await reply) as [Extract<Msg, { op: "usage" }>];
      return m;
    },
  };
}

function nginxMeter(n: NginxProxy): Meter {
  return { name: "nginx", usage: async () => ({ cpuMs: n.cpuMs(), rssMb: n.rssMb() }) };
}

interface Path {
  name: string;
  host: string;
  port: number;
  meters: Meter[];
}

/** One measured phase on one path: the load result and each proxy's CPU ms during it. */
interface Phase {
  result: RunResult;
  cpuMs: number[];
}

async function measure(path: Path, load: () => Promise<RunResult>): Promise<Phase> {
  const before = await Promise.all(path.meters.map((m) => m.usage()));
  const result = await load();
  const after = await Promise.all(path.meters.map((m) => m.usage()));
  return { result, cpuMs: after.map((a, i) => a.cpuMs - before[i]!.cpuMs) };
}

const rate = (r: RunResult) => r.requests / r.seconds;
const us = (ms: number) => (ms * 1000).toFixed(0);
const k = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

/** Total proxy CPU per unit, with the split per process when there is more than one ("0.30 (A 0.10 + wp 0.20)"). */
function cpuCell(path: Path, phase: Phase, per: (cpuMs: number) => number, digits: number): string {
  if (path.meters.length === 0) return "–";
  const total = per(phase.cpuMs.reduce((a, b) => a + b, 0)).toFixed(digits);
  if (path.meters.length === 1) return total;
  return `${total} (${path.meters.map((m, i) => `${m.name} ${per(phase.cpuMs[i]!).toFixed(digits)}`).join(" + ")})`;
}

async function main(): Promise<void> {
  const ca = await MeshCa.generate({ authorizer: () => true });
  const start: StartMsg = {
    op: "start",
    caCert: ca.rootPem,
    caKey: await ca.exportRootKeyPem(),
    hbonePort: await freePort(),
    waypointPort: 0,
  };
  const origin = child("origin");
  const wp = child("waypoint");
  const zA = child("ztunnel", "a");
  const zB = child("ztunnel", "b");
  const children = [origin, wp, zA, zB];
  let nginx: NginxProxy | undefined;
  try {
    await ready(origin);
    wp.send(start);
    const [waypointPort] = await ready(wp);
    for (const z of [zA, zB]) z.send({ ...start, waypointPort: waypointPort! });
    const [[l4Port, l7Port]] = await Promise.all([ready(zA), ready(zB)]);
    const ztunnels = [ipcMeter("A", zA), ipcMeter("B", zB)];
    const paths: Path[] = [
      { name: "direct", host: SERVER_IP, port: APP_PORT, meters: [] },
      { name: "L4: 2 ztunnels", host: "127.0.0.1", port: l4Port!, meters: ztunnels },
      {
        name: "L7: ztunnel, waypoint, ztunnel",
        host: "127.0.0.1",
        port: l7Port!,
        meters: [...ztunnels, ipcMeter("wp", wp)],
      },
    ];
    const bin = findNginx();
    let nginxNote = "nginx: not on PATH, its column is skipped (apt-get install nginx-light to include it)";
    if (bin) {
      nginx = await startNginx(bin, await freePort(), { host: SERVER_IP, port: APP_PORT });
      paths.push({ name: "nginx", host: "127.0.0.1", port: nginx.port, meters: [nginxMeter(nginx)] });
      nginxNote = `nginx: ${bin}, 1 worker, upstream keep-alive, access log off`;
    }
    // Warm up every path (TLS sessions, JIT, upstream keep-alive pools).
    for (const p of paths) await run(p.port, p.host, 1);

    const churnSeconds = Math.max(2, Math.round(SECONDS / 2));
    const fixed: Phase[] = [];
    const max: Phase[] = [];
    const churn: Phase[] = [];
    for (const p of paths) fixed.push(await measure(p, () => run(p.port, p.host, SECONDS, FIXED_RPS)));
    for (const p of paths) max.push(await measure(p, () => run(p.port, p.host, SECONDS)));
    for (const p of paths) churn.push(await measure(p, () => runChurn(p.port, p.host, churnSeconds)));
    const rss = await Promise.all(paths.map((p) => Promise.all(p.meters.map((m) => m.usage()))));

    const d = 0; // index of the direct path: the baseline of every ratio
    const cols = paths.map((_, i) => i);
    const line = (label: string, cell: (i: number) => string) =>
      console.log(`| ${label} | ${cols.map(cell).join(" | ")} |`);
    console.log(
      `dataplane benchmark: HTTP/1.1 keep-alive, 1 KiB responses, ${CONNECTIONS} connections, ${SECONDS} s per phase (${churnSeconds} s for new connections)\n${nginxNote}\n`,
    );
    line("measure", (i) => paths[i]!.name);
    line("---", () => "---");
    line(`achieved at ${FIXED} req/s`, (i) => rate(fixed[i]!.result).toFixed(0));
    line(`p50 / p90 / p99 at ${FIXED} req/s (µs)`, (i) =>
      [50, 90, 99].map((q) => us(pct(fixed[i]!.result.latencies, q))).join(" / "),
    );
    line("added p50 / p90 / p99 (µs)", (i) =>
      i === d
        ? "–"
        : [50, 90, 99]
            .map((q) => us(pct(fixed[i]!.result.latencies, q) - pct(fixed[d]!.result.latencies, q)))
            .join(" / "),
    );
    line(`proxy vCPU per 1,000 req/s at ${FIXED} req/s`, (i) =>
      cpuCell(paths[i]!, fixed[i]!, (ms) => ms / 1000 / fixed[i]!.result.seconds / (rate(fixed[i]!.result) / 1000), 3),
    );
    line("max rate (req/s, ratio to direct)", (i) =>
      i === d
        ? k(rate(max[i]!.result))
        : `${k(rate(max[i]!.result))} (${(rate(max[i]!.result) / rate(max[d]!.result)).toFixed(2)}×)`,
    );
    line("p50 at max rate (µs)", (i) => us(pct(max[i]!.result.latencies, 50)));
    line("proxy CPU-s per 1,000 requests at max rate", (i) =>
      cpuCell(paths[i]!, max[i]!, (ms) => ms / 1000 / (max[i]!.result.requests / 1000), 3),
    );
    line("new connection per request (conn/s, ratio)", (i) =>
      i === d
        ? k(rate(churn[i]!.result))
        : `${k(rate(churn[i]!.result))} (${(rate(churn[i]!.result) / rate(churn[d]!.result)).toFixed(2)}×)`,
    );
    line("proxy CPU ms per new connection", (i) =>
      cpuCell(paths[i]!, churn[i]!, (ms) => ms / churn[i]!.result.requests, 2),
    );
    line("RSS (MiB)", (i) =>
      paths[i]!.meters.length === 0
        ? "–"
        : paths[i]!.meters.map(
            (m, j) => `${paths[i]!.meters.length > 1 ? `${m.name} ` : ""}${rss[i]![j]!.rssMb.toFixed(0)}`,
          ).join(", "),
    );
    const ni = paths.findIndex((p) => p.name === "nginx");
    if (ni >= 0) {
      const cpuPerReq = (i: number) => max[i]!.cpuMs.reduce((a, b) => a + b, 0) / max[i]!.result.requests;
      console.log(
        `\nproxy CPU per request at max rate relative to nginx: L4 ${(cpuPerReq(1) / cpuPerReq(ni)).toFixed(1)}×, L7 ${(cpuPerReq(2) / cpuPerReq(ni)).toFixed(1)}×`,
      );
    }
    console.log(
      "goals: L4 p50 added < 300 µs and ztunnel ≤ 0.15 vCPU per 1,000 req/s at 1,000 req/s; L7 p50 added < 1 ms. " +
        "RSS of Node processes includes the tsx loader. Shared 2-core machine: expect 10-30 % run-to-run noise.",
    );
  } finally {
    await nginx?.stop();
    for (const c of children) c.kill();
  }
}

const role = process.argv[2];
if (role === "origin") await originRole();
else if (role === "waypoint") await waypointRole();
else if (role === "ztunnel") await ztunnelRole(process.argv[3] === "b" ? "b" : "a");
else await main();
