// Wasm plugins through the real waypoint: client → (HBONE) waypoint (child process) → (HBONE) pod → app, at
// 1,000 req/s, for three services of the same waypoint that differ only in their WasmPlugins: none, the no-op
// plugin, add-header. Runs are interleaved (none, no-op, add-header, twice) and each variant reports its best
// round, so slow phases of the shared machine hit all three alike; ratios are to the no-plugin baseline.
//   node --import tsx bench/wasm-waypoint.ts            (WASM_WAYPOINT_BENCH_SECONDS=3 for shorter runs)
// Numbers are noisy: 2 cores shared by the client, the waypoint, the pod and other developers' work.

import { fork } from "node:child_process";
import { once } from "node:events";
import type { Agent } from "node:http";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildExamples } from "../examples/wasm/build.js";
import { HbonePool } from "../src/dataplane/hbone/pool.js";
import type { CertSource } from "../src/dataplane/hbone/tls.js";
import { WaypointWasm } from "../src/dataplane/waypoint/wasm/index.js";
import { MeshCa } from "../src/identity/ca.js";
import { agentVia, openLoop, timedGet } from "./lib/load.js";
import { startBenchPod } from "./lib/pod.js";
import { cpuMs } from "./lib/proc.js";
import { pct } from "./lib/stats.js";
import { benchCert, benchL7Config, benchService, newBenchWaypoint, WAYPOINT_ID } from "./lib/waypoint.js";

const CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/client";
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

// ---- child: the waypoint with its Wasm plugins ----
async function child(): Promise<void> {
  const { wpCert, podHbonePort, urls } = JSON.parse(process.env.WASM_WAYPOINT_BENCH_INPUT!) as {
    wpCert: CertSource;
    podHbonePort: number;
    urls: Record<string, string>;
  };
  let wasm: WaypointWasm | undefined;
  const wp = newBenchWaypoint(
    { cert: wpCert, host: "127.0.0.1", upstreamHbonePort: podHbonePort },
    { accessLog: () => {}, extensions: (c) => wasm!.extensions(c) },
  );
  wasm = new WaypointWasm({ certs: () => wpCert, metrics: wp.metrics });
  await wp.start();
  const endpoint = { address: "127.0.0.1", identity: POD_ID, targetPort: APP_PORT };
  const plugin = (name: string, service: string, pluginConfig?: unknown) => ({
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: { name, namespace: "bench" },
    spec: { targetRefs: [{ kind: "Service", group: "", name: service }], url: urls[name], pluginConfig },
  });
  const config = benchL7Config({
    services: VARIANTS.map((v) => benchService(v.service, v.vip, endpoint)),
    wasmPlugins: [plugin("noop", "noop"), plugin("add-header", "add", { name: "x-wasm", value: "bench" })],
  });
  await wp.configure(config);
  process.send!({ port: wp.ports.hbone });
  process.on("message", async () => {
    await wp.stop();
    await wasm!.close();
    process.exit(0);
  });
}

// ---- parent: app, pod, client, load ----
/** Open loop at RATE req/s for `seconds`; add-header's variant must carry its header, the others must not. */
function load(agent: Agent, host: string, expectHeader: boolean, seconds: number): Promise<number[]> {
  return openLoop(RATE, seconds, () =>
    timedGet(agent, host, (res) =>
      expectHeader !== (res.headers["x-wasm"] === "bench") ? "x-wasm header mismatch" : undefined,
    ),
  );
}

async function parent(): Promise<void> {
  const built = await buildExamples();
  const urls = { noop: pathToFileURL(built.noop!).href, "add-header": pathToFileURL(built["add-header"]!).href };
  const ca = await MeshCa.generate({ trustDomain: "cluster.local", authorizer: () => true });
  const [clientCert, wpCert, podCert] = await Promise.all([
    benchCert(ca, CLIENT_ID),
    benchCert(ca, WAYPOINT_ID),
    benchCert(ca, POD_ID),
  ]);
  const pod = await startBenchPod(podCert, "127.0.0.1");
  const proc = fork(fileURLToPath(import.meta.url), ["child"], {
    execArgv: ["--import", "tsx", ...(PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROF_DIR] : [])],
    env: { ...process.env, WASM_WAYPOINT_BENCH_INPUT: JSON.stringify({ wpCert, podHbonePort: pod.port, urls }) },
  });
  const [{ port: wpPort }] = (await once(proc, "message")) as [{ port: number }];
  const pool = new HbonePool({ certs: () => clientCert });
  const agents = VARIANTS.map((v) =>
    agentVia(
      () => pool.connect({ address: `127.0.0.1:${wpPort}`, target: `${v.vip}:80`, expectedIdentities: [WAYPOINT_ID] }),
      CONNECTIONS,
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
}

if (process.argv[2] === "child") await child();
else await parent();
