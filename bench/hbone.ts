// HBONE benchmark on loopback, three processes: the origins (apps), the HBONE server, and the client side (pool,
// client-side tunnel listener, load generator); each tunnelled number is measured next to the same workload sent
// directly to the origin, and through nginx stream proxies (TLS-terminating and plain) when nginx and its stream
// module are installed (apt-get install nginx-light libnginx-mod-stream), in the same run.
//   npm run bench:hbone                 (1 GiB bulk)
//   HBONE_BENCH_BYTES=268435456 npm run bench:hbone   (quicker)
//   HBONE_BENCH_ONLY=a,c npm run bench:hbone          (only bulk and connection rate)
//   HBONE_BENCH_SERVER_FLAGS="" npm run bench:hbone   (HBONE server without DATA_PLANE_NODE_FLAGS)
// Only 127.0.0.1 is used. Numbers are noisy on a shared 2-core machine.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Duplex } from "node:stream";
import { type PeerCertificate, connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { HbonePool } from "../src/dataplane/hbone/pool.js";
import { HboneServer } from "../src/dataplane/hbone/server.js";
import { DATA_PLANE_NODE_FLAGS } from "../src/dataplane/hbone/settings.js";
import { splice } from "../src/dataplane/hbone/splice.js";
import { type CertSource, secureContextFor, verifyServerIdentity } from "../src/dataplane/hbone/tls.js";
import { MeshCa } from "../src/identity/ca.js";
import { createCsr } from "../src/identity/csr.js";
import { freePort } from "./lib/net.js";
import { findNginx, findStreamModule, type NginxStreamProxy, startNginxStream } from "./lib/nginx.js";
import { cpuMs } from "./lib/proc.js";

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

/** CPU ms used by each process of the benchmark (client, HBONE server, origins, nginx), summed over metered runs. */
class CpuMeter {
  readonly totals: number[];
  constructor(readonly sources: ReadonlyArray<() => number>) {
    this.totals = sources.map(() => 0);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const before = this.sources.map((f) => f());
    const result = await work();
    this.sources.forEach((f, i) => {
      this.totals[i]! += f() - before[i]!;
    });
    return result;
  }

  /** "client / server / origins[ / nginx]" per unit of work. */
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

/** A TLS connection as an HBONE client makes it (same suites, client certificate, SPIFFE check), without HTTP/2. */
function tlsTo(port: number, certs: CertSource): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen reaches the socket Node creates, though ConnectionOptions does not declare it.
    const options = {
      host: HOST,
      port,
      secureContext: secureContextFor(certs),
      rejectUnauthorized: true,
      allowHalfOpen: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => verifyServerIdentity(cert, [SERVER_ID]),
    };
    const s = tlsConnect(options);
    s.once("secureConnect", () => {
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** nginx stream proxies (plain and TLS-terminating) in front of the origins' sink and HTTP server, when available. */
async function nginxBaselines(origin: number, tls: CertSource): Promise<{ proxy?: NginxStreamProxy; note: string }> {
  const bin = findNginx();
  if (!bin)
    return { note: "nginx: not on PATH, its rows are skipped (apt-get install nginx-light libnginx-mod-stream)" };
  const module = findStreamModule(bin);
  if (!module) return { note: `nginx: ${bin} has no stream module, its rows are skipped (libnginx-mod-stream)` };
  const ports = { plainPort: await freePort(), tlsPort: await freePort() };
  const pem = (v: CertSource["key"]) => String(v);
  const proxy = await startNginxStream(
    bin,
    module,
    ports,
    { host: HOST, port: origin },
    {
      cert: pem(tls.cert),
      key: pem(tls.key),
      ca: [tls.ca].flat().map(pem).join("\n"),
    },
  );
  return { proxy, note: `nginx: ${bin}, stream proxies, 1 worker, half-close; TLS 1.3 with client certificates` };
}

interface Path {
  name: string;
  open: () => Promise<Duplex>;
}

/** A markdown table with padded columns. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * (a) Bulk: every path carries the same bytes in each round; the order rotates from round to round and each path's
 * ratio to direct is taken within the round, so slow drifts of a shared machine cancel out. Medians over rounds.
 */
async function bulkPart(paths: Path[], bytes: number, meter: () => CpuMeter): Promise<string> {
  const rounds = 8;
  const perRound = Math.max(1, Math.round(bytes / rounds / 2 ** 20)) * 2 ** 20;
  // An untimed warm-up on each path first, so no round pays for JIT compilation, heap growth or a handshake.
  for (const p of paths) await bulk(p.open, 64 * 2 ** 20);
  const speeds = paths.map(() => [] as number[]);
  const meters = paths.map(() => meter());
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < paths.length; k++) {
      const i = (r + k) % paths.length;
      speeds[i]!.push(await meters[i]!.run(() => bulk(paths[i]!.open, perRound)));
    }
  }
  const gib = (rounds * perRound) / 2 ** 30;
  const ratio = (i: number, j: number) => speeds[i]!.map((s, r) => s / speeds[j]![r]!);
  const range = (xs: number[]) => `${pct(median(xs))} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`;
  const rows = paths.map((p, i) => [
    p.name,
    median(speeds[i]!).toFixed(0),
    i === 0 ? "–" : range(ratio(i, 0)),
    meters[i]!.per(gib, 0),
  ]);
  const out = [
    `(a) bulk, one connection, ${rounds} rounds × ${perRound / 2 ** 20} MiB per path`,
    table(
      ["path", "MiB/s (median)", "÷ direct, median (min–max)", "CPU ms/GiB client / HBONE server / origins / nginx"],
      rows,
    ),
    `(a) HBONE ÷ direct ${pct(median(ratio(1, 0)))} (goal ≥ 50%)`,
  ];
  const tlsIndex = paths.findIndex((p) => p.name === "nginx TLS");
  if (tlsIndex > 0) out.push(`(a) HBONE ÷ nginx TLS ${pct(median(ratio(1, tlsIndex)))} (same crypto work, no HTTP/2)`);
  return out.join("\n");
}

/** (b) HTTP/1.1 keep-alive requests: latency at a fixed 1,000 req/s and the maximum rate. */
async function requestPart(paths: Path[]): Promise<string> {
  const rows: string[][] = [];
  let directP50 = 0;
  for (const p of paths) {
    const fixed = await fixedRate(p.open, 1000, 3);
    const max = await maxRate(p.open, 16, 3);
    if (rows.length === 0) directP50 = fixed.p50;
    const added = fixed.p50 - directP50;
    rows.push([
      p.name,
      fixed.p50.toFixed(3),
      fixed.p99.toFixed(3),
      rows.length === 0 ? "–" : `${added >= 0 ? "+" : ""}${added.toFixed(3)}`,
      max.toFixed(0),
    ]);
  }
  return [
    "(b) HTTP/1.1 keep-alive, 1,000 req/s on one connection, then max rate on 16 (goal: HBONE pair adds < 0.2 ms p50)",
    table(["path", "p50 ms", "p99 ms", "added p50 ms", "max req/s"], rows),
  ].join("\n");
}

/** (c) New connections per second, 32 at a time; tunnels ride pooled sessions. */
async function connectionPart(paths: Path[], meter: () => CpuMeter): Promise<string> {
  const rates = paths.map(() => [] as number[]);
  const meters = paths.map(() => meter());
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, p] of paths.entries()) rates[i]!.push(await meters[i]!.run(() => connRate(p.open, 32, 3 / ROUNDS)));
  }
  const rows = paths.map((p, i) => {
    const made = (rates[i]!.reduce((x, y) => x + y) * 3) / ROUNDS;
    return [p.name, median(rates[i]!).toFixed(0), meters[i]!.per(made / 1000, 0)];
  });
  return [
    "(c) new connections/s, 32 concurrent (goal: HBONE ≥ 5,000/s)",
    table(["path", "connections/s (median)", "CPU µs per connection client / HBONE server / origins / nginx"], rows),
  ].join("\n");
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
  // One nginx per origin port: its stream proxies have a single upstream each.
  const sinkNginx = await nginxBaselines(ports.sink, serverCerts);
  const httpNginx = await nginxBaselines(ports.http, serverCerts);
  const nginxCpu = () => (sinkNginx.proxy?.cpuMs() ?? 0) + (httpNginx.proxy?.cpuMs() ?? 0);
  const procCpu = (pid: number) => () => cpuMs(pid);
  const meter = () =>
    new CpuMeter([procCpu(process.pid), procCpu(hboneChild.proc.pid!), procCpu(originsChild.proc.pid!), nginxCpu]);
  const sections: string[] = [];

  if (only("a")) {
    const paths: Path[] = [
      { name: "direct", open: () => tcp(ports.sink) },
      { name: "HBONE", open: viaHbone(ports.sink) },
    ];
    const n = sinkNginx.proxy;
    if (n) {
      paths.push({ name: "nginx TLS", open: () => tlsTo(n.tlsPort, clientCerts) });
      paths.push({ name: "nginx TCP", open: () => tcp(n.plainPort) });
    }
    sections.push(await bulkPart(paths, bytes, meter));
  }

  const local = await tunnelListener(pool, address, `${HOST}:${ports.http}`);
  if (only("b")) {
    const paths: Path[] = [
      { name: "direct", open: () => tcp(ports.http) },
      { name: "HBONE pair (client listener + HBONE server)", open: () => tcp(local.port) },
    ];
    const n = httpNginx.proxy;
    if (n) paths.push({ name: "nginx TCP stream proxy", open: () => tcp(n.plainPort) });
    sections.push(await requestPart(paths));
  }

  if (only("c")) {
    const paths: Path[] = [
      { name: "direct", open: () => tcp(ports.closer) },
      { name: "HBONE", open: viaHbone(ports.closer) },
    ];
    sections.push(await connectionPart(paths, meter));
  }

  console.log(sections.join("\n\n"));
  console.log(sinkNginx.note);
  console.log(`HBONE server node flags: ${serverFlags.join(" ") || "none"}`);
  console.log(`pool after run: ${JSON.stringify(pool.stats())}; loopback, 2 shared cores: expect ±20% noise`);

  local.server.close();
  await pool.close();
  for (const n of [sinkNginx.proxy, httpNginx.proxy]) await n?.stop();
  for (const c of [hboneChild, originsChild]) {
    c.proc.stdin!.end();
    await once(c.proc, "exit");
  }
}

if (process.argv[2] === "origins") await origins();
else if (process.argv[2] === "hbone") await hbone();
else await main();
