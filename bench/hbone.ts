// HBONE benchmark on loopback, three processes: the origins (apps), the HBONE server, and the client side (pool,
// client-side tunnel listener, load generator); each tunnelled number is measured next to the same workload sent
// directly to the origin in the same run.
//   npm run bench:hbone                 (1 GiB bulk)
//   HBONE_BENCH_BYTES=268435456 npm run bench:hbone   (quicker)
//   HBONE_BENCH_ONLY=a,c npm run bench:hbone          (only bulk and connection rate)
//   HBONE_BENCH_SERVER_FLAGS="" npm run bench:hbone   (HBONE server without DATA_PLANE_NODE_FLAGS)
// Only 127.0.0.1 is used. Numbers are noisy on a shared 2-core machine.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { HbonePool } from "../src/dataplane/hbone/pool.js";
import { HboneServer } from "../src/dataplane/hbone/server.js";
import { DATA_PLANE_NODE_FLAGS } from "../src/dataplane/hbone/settings.js";
import { splice } from "../src/dataplane/hbone/splice.js";
import type { CertSource } from "../src/dataplane/hbone/tls.js";
import { MeshCa } from "../src/identity/ca.js";
import { createCsr } from "../src/identity/csr.js";

const CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/client";
const SERVER_ID = "spiffe://cluster.local/ns/bench/sa/server";
const HOST = "127.0.0.1";

interface Origins {
  sink: number;
  http: number;
  closer: number;
}

// Direct and tunnelled runs alternate in rounds and each reports its median, so a burst of load from another
// process on the shared CPU skews one round rather than one side.
const ROUNDS = 4;
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux, 100 ticks/s). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms used by each process of the benchmark, summed over the runs it metered. */
class CpuMeter {
  readonly totals = [0, 0, 0];
  constructor(readonly pids: readonly number[]) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    const before = this.pids.map(cpuMs);
    const result = await work();
    this.pids.forEach((pid, i) => {
      this.totals[i]! += cpuMs(pid) - before[i]!;
    });
    return result;
  }

  /** "client / server / origins" per unit of work. */
  per(units: number, digits: number): string {
    return this.totals.map((t) => (t / units).toFixed(digits)).join(" / ");
  }
}

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, HOST, () => r((s.address() as AddressInfo).port)));

/** Prints one JSON line for the parent, then lives until the parent closes our stdin. */
function ready(value: unknown, lines: ReturnType<typeof createInterface>): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
  lines.on("close", () => process.exit(0));
}

// ---- child 1: the origins, in their own process as apps are, so the tunnel's server does not share their loop ----

async function origins(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const sink = createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on("data", (d: Buffer) => {
      n += d.length;
    });
    s.on("end", () => s.end(String(n)));
  });
  const http = createHttpServer({ keepAlive: true }, (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    res.end("ok");
  });
  const closer = createServer({ allowHalfOpen: true }, (s) => {
    s.resume();
    s.end();
  });
  const ports: Origins = {
    sink: await listen(sink),
    http: await listen(http as unknown as Server),
    closer: await listen(closer),
  };
  ready(ports, lines);
}

// ---- child 2: the HBONE server (the destination's ztunnel) ----

async function hbone(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const [first] = await once(lines, "line");
  const certs = JSON.parse(first as string) as CertSource;
  const server = new HboneServer({
    port: 0,
    host: HOST,
    certs: () => certs,
    trustDomain: "cluster.local",
    connectUpstream: (info) =>
      new Promise<Duplex>((resolve, reject) => {
        const s = connect({ host: info.target.host, port: info.target.port, allowHalfOpen: true, noDelay: true });
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      }),
  });
  await server.start();
  ready({ hbone: server.port }, lines);
}

/** Starts this file as a child playing `role`; resolves with its child process and the JSON line it printed. */
async function child<T>(
  role: string,
  input?: unknown,
  nodeFlags: readonly string[] = [],
): Promise<{ proc: ChildProcess; info: T }> {
  const proc = spawn(process.execPath, [...nodeFlags, ...process.execArgv, fileURLToPath(import.meta.url), role], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  if (input !== undefined) proc.stdin!.write(`${JSON.stringify(input)}\n`);
  const [line] = await once(createInterface({ input: proc.stdout! }), "line");
  return { proc, info: JSON.parse(line as string) as T };
}

// ---- parent: client side and load ----

async function issue(ca: MeshCa, id: string): Promise<CertSource> {
  const { keyPem, csrPem } = await createCsr(id);
  const [leaf] = await ca.sign(csrPem, { node: "bench", identity: id });
  return { key: keyPem, cert: leaf!, ca: ca.rootPem };
}

async function bulk(open: () => Promise<Duplex>, bytes: number): Promise<number> {
  const s = await open();
  const chunk = Buffer.alloc(1 << 20, 7);
  const t0 = performance.now();
  const reply = new Promise<string>((resolve, reject) => {
    let r = "";
    s.on("data", (d: Buffer) => {
      r += d;
    });
    s.once("end", () => resolve(r));
    s.once("error", reject);
  });
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!s.write(chunk)) await once(s, "drain");
  }
  s.end();
  const got = Number(await reply);
  const secs = (performance.now() - t0) / 1000;
  if (got !== bytes) throw new Error(`sink got ${got} of ${bytes} bytes`);
  return bytes / secs / 2 ** 20;
}

function tcp(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: HOST, port, allowHalfOpen: true, noDelay: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** A minimal keep-alive HTTP/1.1 client on one connection: send GET, wait for the full response. */
function httpClient(sock: Duplex): () => Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  sock.on("data", (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const len = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
    if (buf.length < end + 4 + len) return;
    buf = buf.subarray(end + 4 + len);
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  return () =>
    new Promise<void>((resolve) => {
      waiting = resolve;
      sock.write("GET / HTTP/1.1\r\nHost: origin\r\n\r\n");
    });
}

async function fixedRate(open: () => Promise<Duplex>, rps: number, seconds: number) {
  const sock = await open();
  const get = httpClient(sock);
  for (let i = 0; i < 200; i++) await get(); // warm up
  const lat: number[] = [];
  const t0 = performance.now();
  const n = rps * seconds;
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait - 0.5));
    while (performance.now() < due) await new Promise((r) => setImmediate(r));
    const s = performance.now();
    await get();
    lat.push(performance.now() - s);
  }
  sock.end();
  lat.sort((a, b) => a - b);
  return {
    p50: lat[Math.floor(n * 0.5)]!,
    p99: lat[Math.floor(n * 0.99)]!,
    rps: n / ((performance.now() - t0) / 1000),
  };
}

async function maxRate(open: () => Promise<Duplex>, conns: number, seconds: number): Promise<number> {
  const socks = await Promise.all(Array.from({ length: conns }, open));
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    socks.map(async (s) => {
      const get = httpClient(s);
      while (performance.now() < end) {
        await get();
        count++;
      }
      s.end();
    }),
  );
  return count / seconds;
}

async function connRate(open: () => Promise<Duplex>, concurrency: number, seconds: number): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = await open();
        s.resume();
        s.end();
        await once(s, "close");
        count++;
      }
    }),
  );
  return count / seconds;
}

/** The client-side half of a tunnel pair: a local TCP listener whose connections are tunnelled over HBONE. */
async function tunnelListener(
  pool: HbonePool,
  address: string,
  target: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (s: Socket) => {
    pool.connect({ address, target, expectedIdentities: [SERVER_ID] }).then(
      (t) => splice(s, t),
      () => s.destroy(),
    );
  });
  return { server, port: await listen(server) };
}

async function main(): Promise<void> {
  const bytes = Number(process.env.HBONE_BENCH_BYTES ?? 2 ** 30);
  // HBONE_BENCH_ONLY=a,c runs only those parts (for profiling one of them).
  const parts = process.env.HBONE_BENCH_ONLY?.split(",");
  const only = (part: string) => !parts || parts.includes(part);
  const ca = await MeshCa.generate({ authorizer: () => true });
  const serverCerts = await issue(ca, SERVER_ID);
  const clientCerts = await issue(ca, CLIENT_ID);
  const originsChild = await child<Origins>("origins");
  // The HBONE server runs as a ztunnel should be launched; HBONE_BENCH_SERVER_FLAGS="" measures without the flags.
  const serverFlags = (process.env.HBONE_BENCH_SERVER_FLAGS?.split(" ") ?? DATA_PLANE_NODE_FLAGS).filter(Boolean);
  const hboneChild = await child<{ hbone: number }>("hbone", serverCerts, serverFlags);
  const ports = originsChild.info;
  const address = `${HOST}:${hboneChild.info.hbone}`;
  const pool = new HbonePool({ certs: () => clientCerts });
  const viaHbone = (port: number) => () =>
    pool.connect({ address, target: `${HOST}:${port}`, expectedIdentities: [SERVER_ID] });

  const rows: Array<[string, string, string, string]> = [];
  const notes: string[] = [];
  const meter = () => new CpuMeter([process.pid, hboneChild.proc.pid!, originsChild.proc.pid!]);
  const fmt = (n: number, d = 0) => n.toFixed(d);
  const delta = (n: number) => `${n >= 0 ? "+" : ""}${fmt(n, 3)} ms`;

  // (a) bulk
  if (only("a")) {
    const direct: number[] = [];
    const tunnelled: number[] = [];
    const [directCpu, tunnelCpu] = [meter(), meter()];
    // Whole MiB per round: bulk() sends 1 MiB chunks.
    const perRound = Math.max(1, Math.round(bytes / ROUNDS / 2 ** 20)) * 2 ** 20;
    // An untimed warm-up on each path first, so no round pays for JIT compilation or heap growth.
    await bulk(() => tcp(ports.sink), 64 * 2 ** 20);
    await bulk(viaHbone(ports.sink), 64 * 2 ** 20);
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await directCpu.run(() => bulk(() => tcp(ports.sink), perRound)));
      tunnelled.push(await tunnelCpu.run(() => bulk(viaHbone(ports.sink), perRound)));
    }
    const gib = (ROUNDS * perRound) / 2 ** 30;
    notes.push(
      `(a) CPU ms per GiB, client / HBONE server / origins: direct ${directCpu.per(gib, 0)}, HBONE ${tunnelCpu.per(gib, 0)}`,
    );
    const ratios = direct.map((d, i) => tunnelled[i]! / d);
    rows.push([
      `(a) bulk ${ROUNDS}×${fmt(perRound / 2 ** 20)} MiB, MiB/s`,
      fmt(median(direct)),
      fmt(median(tunnelled)),
      `${fmt(100 * median(ratios))}% (goal ≥50%)`,
    ]);
  }

  // (b) HTTP/1.1 keep-alive through a client-side listener + HBONE server pair
  const local = await tunnelListener(pool, address, `${HOST}:${ports.http}`);
  if (only("b")) {
    const direct = await fixedRate(() => tcp(ports.http), 1000, 3);
    const tunnelled = await fixedRate(() => tcp(local.port), 1000, 3);
    rows.push([
      "(b) 1,000 req/s p50, ms",
      fmt(direct.p50, 3),
      fmt(tunnelled.p50, 3),
      `${delta(tunnelled.p50 - direct.p50)} (goal <0.2)`,
    ]);
    rows.push([
      "(b) 1,000 req/s p99, ms",
      fmt(direct.p99, 3),
      fmt(tunnelled.p99, 3),
      delta(tunnelled.p99 - direct.p99),
    ]);
    const directMax = await maxRate(() => tcp(ports.http), 16, 3);
    const tunnelMax = await maxRate(() => tcp(local.port), 16, 3);
    rows.push([
      "(b) max req/s, 16 keep-alive conns",
      fmt(directMax),
      fmt(tunnelMax),
      `${fmt((100 * tunnelMax) / directMax)}%`,
    ]);
  }

  // (c) new connections per second; tunnels ride pooled sessions
  if (only("c")) {
    const direct: number[] = [];
    const tunnelled: number[] = [];
    const [directCpu, tunnelCpu] = [meter(), meter()];
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await directCpu.run(() => connRate(() => tcp(ports.closer), 32, 3 / ROUNDS)));
      tunnelled.push(await tunnelCpu.run(() => connRate(viaHbone(ports.closer), 32, 3 / ROUNDS)));
    }
    const [directConns, tunnelConns] = [direct, tunnelled].map((rates) => (rates.reduce((x, y) => x + y) * 3) / ROUNDS);
    notes.push(
      `(c) CPU µs per connection, client / HBONE server / origins: direct ${directCpu.per(directConns! / 1000, 0)}, HBONE ${tunnelCpu.per(tunnelConns! / 1000, 0)}`,
    );
    rows.push([
      "(c) new connections/s, 32 concurrent",
      fmt(median(direct)),
      fmt(median(tunnelled)),
      `${fmt((100 * median(tunnelled)) / median(direct))}% (goal ≥5,000/s)`,
    ]);
  }
  rows.push(["nginx TCP stream proxy", "-", "-", "skipped: nginx is not installed"]);

  const header: [string, string, string, string] = ["measure", "direct", "HBONE", "ratio / delta"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line2 = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line2(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line2(r));
  for (const n of notes) console.log(n);
  console.log(`HBONE server node flags: ${serverFlags.join(" ") || "none"}`);
  console.log(`pool after run: ${JSON.stringify(pool.stats())}; loopback, 2 shared cores: expect ±20% noise`);

  local.server.close();
  await pool.close();
  for (const c of [hboneChild, originsChild]) {
    c.proc.stdin!.end();
    await once(c.proc, "exit");
  }
}

if (process.argv[2] === "origins") await origins();
else if (process.argv[2] === "hbone") await hbone();
else await main();
