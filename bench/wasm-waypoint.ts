// Wasm plugins through the real waypoint: client → (HBONE) waypoint (child process) → (HBONE) pod → app, at
// 1,000 req/s, for three services of the same waypoint that differ only in their WasmPlugins: none, the no-op
// plugin, add-header. Runs are interleaved (none, no-op, add-header, twice) and each variant reports its best
// round, so slow phases of the shared machine hit all three alike; ratios are to the no-plugin baseline.
//   node --import tsx bench/wasm-waypoint.ts            (WASM_WAYPOINT_BENCH_SECONDS=3 for shorter runs)
// Numbers are noisy: 2 cores shared by the client, the waypoint, the pod and other developers' work.

import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import { type AddressInfo, connect } from "node:net";
import type { Duplex } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildExamples } from "../examples/wasm/build.js";
import { HbonePool } from "../src/dataplane/hbone/pool.js";
import { HboneServer } from "../src/dataplane/hbone/server.js";
import type { CertSource } from "../src/dataplane/hbone/tls.js";
import { socketLike } from "../src/dataplane/waypoint/socket-like.js";
import { WaypointWasm } from "../src/dataplane/waypoint/wasm/index.js";
import { Waypoint } from "../src/dataplane/waypoint/waypoint.js";
import { MeshCa } from "../src/identity/ca.js";
import { createCsr } from "../src/identity/csr.js";
import type { WaypointL7Config, WaypointService } from "../src/xds/waypoint-config.js";

const CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/client";
const WAYPOINT_ID = "spiffe://cluster.local/ns/bench/sa/waypoint";
const POD_ID = "spiffe://cluster.local/ns/bench/sa/app";
const APP_PORT = 8080;
const SECONDS = Number(process.env.WASM_WAYPOINT_BENCH_SECONDS ?? 5);
const RATE = 1000;
/** Writes a CPU profile of the waypoint child into this directory (`node --cpu-prof`). */
const PROF_DIR = process.env.WASM_WAYPOINT_BENCH_CPU_PROF;
const CONNECTIONS = 4;
const VARIANTS = [
  { name: "no plugin", service: "none", vip: "10.200.0.1" },
  { name: "no-op", service: "noop", vip: "10.200.0.2" },
  { name: "add-header", service: "add", vip: "10.200.0.3" },
] as const;

async function cert(ca: MeshCa, id: string): Promise<CertSource> {
  const { keyPem, csrPem } = await createCsr(id);
  const chain = await ca.sign(csrPem, { node: "bench", identity: id });
  return { key: keyPem, cert: chain[0]!, ca: [ca.rootPem] };
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

// ---- child: the waypoint with its Wasm plugins ----
async function child(): Promise<void> {
  const { wpCert, podHbonePort, urls } = JSON.parse(process.env.WASM_WAYPOINT_BENCH_INPUT!) as {
    wpCert: CertSource;
    podHbonePort: number;
    urls: Record<string, string>;
  };
  let wasm: WaypointWasm | undefined;
  const wp = new Waypoint({
    certs: () => wpCert,
    port: 0,
    host: "127.0.0.1",
    metricsPort: 0,
    readinessPort: 0,
    adminHost: "127.0.0.1",
    upstreamHbonePort: podHbonePort,
    accessLog: () => {},
    extensions: (c) => wasm!.extensions(c),
  });
  wasm = new WaypointWasm({ certs: () => wpCert, metrics: wp.metrics });
  await wp.start();
  const svc = (name: string, vip: string): WaypointService => ({
    kind: "Service",
    namespace: "bench",
    name,
    hostname: `${name}.bench.svc.cluster.local`,
    vips: [vip],
    ports: [{ port: 80, targetPort: APP_PORT, name: "http" }],
    endpoints: [
      {
        namespace: "bench",
        name: "app-5b9c7d8f4-abcde",
        address: "127.0.0.1",
        identity: POD_ID,
        labels: { app: "app" },
        healthy: true,
        hbone: true,
      },
    ],
  });
  const plugin = (name: string, service: string, pluginConfig?: unknown) => ({
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: "bench" },
    spec: { targetRefs: [{ kind: "Service", group: "", name: service }], url: urls[name], pluginConfig },
  });
  const config: WaypointL7Config = {
    waypoint: { namespace: "bench", name: "waypoint", identity: WAYPOINT_ID, trafficType: "service" },
    services: VARIANTS.map((v) => svc(v.service, v.vip)),
    workloads: [],
    authorizationPolicies: [],
    requestAuthentications: [],
    telemetries: [],
    wasmPlugins: [plugin("noop", "noop"), plugin("add-header", "add", { name: "x-wasm", value: "bench" })],
    httpRoutes: [],
    rootNamespace: "istio-system",
    trustDomain: "cluster.local",
  };
  await wp.configure(config);
  process.send!({ port: wp.ports.hbone });
  process.on("message", async () => {
    await wp.stop();
    await wasm!.close();
    process.exit(0);
  });
}

// ---- parent: app, pod, client, load ----
function agentVia(open: () => Promise<Duplex>): Agent {
  const a = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  (a as unknown as { createConnection: unknown }).createConnection = (
    _o: unknown,
    cb: (e: Error | null, s?: Duplex) => void,
  ) => {
    open().then((t) => cb(null, socketLike(t)), cb);
    return undefined;
  };
  return a;
}

function get(agent: Agent, host: string, expectHeader: boolean): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: "x", path: "/", headers: { host } }, (res) => {
      res.on("data", () => {});
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else if (expectHeader !== (res.headers["x-wasm"] === "bench")) reject(new Error("x-wasm header mismatch"));
        else resolve(Number(process.hrtime.bigint() - start) / 1000);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Open loop at RATE req/s for `seconds`. */
async function load(agent: Agent, host: string, expectHeader: boolean, seconds: number): Promise<number[]> {
  const latenciesUs: number[] = [];
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - t0) / 1000) * RATE);
    while (sent < due) {
      sent++;
      pending.push(get(agent, host, expectHeader).then((us) => void latenciesUs.push(us)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return latenciesUs;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function parent(): Promise<void> {
  const built = await buildExamples();
  const urls = { noop: pathToFileURL(built.noop!).href, "add-header": pathToFileURL(built["add-header"]!).href };
  const ca = await MeshCa.generate({ trustDomain: "cluster.local", authorizer: () => true });
  const [clientCert, wpCert, podCert] = await Promise.all([
    cert(ca, CLIENT_ID),
    cert(ca, WAYPOINT_ID),
    cert(ca, POD_ID),
  ]);
  const body = Buffer.alloc(1024, "x");
  const app = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
  const appPort = (app.address() as AddressInfo).port;
  const pod = new HboneServer({
    port: 0,
    host: "127.0.0.1",
    certs: () => podCert,
    trustDomain: "cluster.local",
    connectUpstream: () =>
      new Promise((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port: appPort, allowHalfOpen: true });
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      }),
  });
  await pod.start();
  const proc = fork(fileURLToPath(import.meta.url), ["child"], {
    execArgv: ["--import", "tsx", ...(PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR] : [])],
    env: { ...process.env, WASM_WAYPOINT_BENCH_INPUT: JSON.stringify({ wpCert, podHbonePort: pod.port, urls }) },
  });
  const [{ port: wpPort }] = (await once(proc, "message")) as [{ port: number }];
  const pool = new HbonePool({ certs: () => clientCert });
  const agents = VARIANTS.map((v) =>
    agentVia(() =>
      pool.connect({ address: `127.0.0.1:${wpPort}`, target: `${v.vip}:80`, expectedIdentities: [WAYPOINT_ID] }),
    ),
  );
  for (const [i, v] of VARIANTS.entries()) await load(agents[i]!, `${v.vip}:80`, v.service === "add", 1);

  console.log(
    `Wasm plugins in the waypoint: HTTP/1.1, 1 KiB responses, ${RATE} req/s, ${CONNECTIONS} connections, ` +
      `${SECONDS} s per run, best of 2 interleaved rounds (shared 2-core machine: noisy)\n`,
  );
  const best = VARIANTS.map(() => ({ p50: Infinity, p90: Infinity, p99: Infinity, cpuPer1k: Infinity }));
  for (let round = 0; round < 2; round++) {
    for (const [i, v] of VARIANTS.entries()) {
      const cpu0 = cpuMs(proc.pid!);
      const lat = await load(agents[i]!, `${v.vip}:80`, v.service === "add", SECONDS);
      const cpuPer1k = ((cpuMs(proc.pid!) - cpu0) / lat.length) * 1000;
      const b = best[i]!;
      b.p50 = Math.min(b.p50, pct(lat, 50));
      b.p90 = Math.min(b.p90, pct(lat, 90));
      b.p99 = Math.min(b.p99, pct(lat, 99));
      b.cpuPer1k = Math.min(b.cpuPer1k, cpuPer1k);
    }
  }
  const base = best[0]!;
  const ms = (us: number) => (us / 1000).toFixed(3);
  console.log("variant       p50 ms   p90 ms   p99 ms   added p50   p50 ratio   waypoint CPU ms per 1,000 req");
  for (const [i, v] of VARIANTS.entries()) {
    const b = best[i]!;
    console.log(
      `${v.name.padEnd(12)} ${ms(b.p50).padStart(7)} ${ms(b.p90).padStart(8)} ${ms(b.p99).padStart(8)} ` +
        `${(i === 0 ? "-" : `${ms(b.p50 - base.p50)}`).padStart(11)} ${(b.p50 / base.p50).toFixed(2).padStart(11)} ` +
        `${b.cpuPer1k.toFixed(0).padStart(14)}`,
    );
  }
  for (const a of agents) a.destroy();
  await pool.close();
  proc.send("stop");
  await once(proc, "exit");
  await pod.stop();
  app.close();
}

if (process.argv[2] === "child") await child();
else await parent();
