// Waypoint benchmark on loopback: client → (HBONE) waypoint → (HBONE) destination "pod" → app, against client →
// (HBONE) pod → app directly, in the same run. HTTP/1.1, 1 KiB responses, 4 keep-alive connections; a fixed rate
// of 1,000 req/s, then as fast as the 4 connections go. The waypoint runs in a child process so its CPU time and
// RSS are its own.
//   npm run bench:waypoint
//   WAYPOINT_BENCH_SECONDS=3 npm run bench:waypoint   (shorter)
// Numbers are noisy: the machine has 2 cores shared with the client, the pod and other developers' work.

import { fork } from "node:child_process";
import { once } from "node:events";
import type { Agent } from "node:http";
import { fileURLToPath } from "node:url";
import { HbonePool } from "../src/dataplane/hbone/pool.js";
import type { CertSource } from "../src/dataplane/hbone/tls.js";
import { MeshCa } from "../src/identity/ca.js";
import { agentVia, closedLoop, openLoop, timedGet } from "./lib/load.js";
import { startBenchPod } from "./lib/pod.js";
import { cpuMs, rssMb } from "./lib/proc.js";
import { pct } from "./lib/stats.js";
import { benchCert, startBenchWaypoint, WAYPOINT_ID } from "./lib/waypoint.js";

const CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/client";
const POD_ID = "spiffe://cluster.local/ns/bench/sa/app";
const POD_IP = "127.0.0.1";
const APP_PORT_NAME = 8080;
const VIP = "10.200.0.1";
const SECONDS = Number(process.env.WAYPOINT_BENCH_SECONDS ?? 5);
const CONNECTIONS = 4;

// ---- child: the waypoint ----
async function child(): Promise<void> {
  const { wpCert, podHbonePort } = JSON.parse(process.env.WAYPOINT_BENCH_INPUT!) as {
    wpCert: CertSource;
    podHbonePort: number;
  };
  const wp = await startBenchWaypoint({
    cert: wpCert,
    host: "127.0.0.1",
    upstreamHbonePort: podHbonePort,
    vip: VIP,
    endpoint: { address: POD_IP, identity: POD_ID, targetPort: APP_PORT_NAME },
  });
  process.send!({ port: wp.ports.hbone });
  process.on("message", async () => {
    await wp.stop();
    process.exit(0);
  });
}

// ---- parent: app, pod, client, load ----
interface RunResult {
  latenciesUs: number[];
  requests: number;
  seconds: number;
}

/** Open loop at `rate` req/s (spread over the connections) for `seconds`, or closed loop when rate is 0. */
async function load(agent: Agent, host: string, rate: number, seconds: number): Promise<RunResult> {
  const t0 = Date.now();
  const send = () => timedGet(agent, host);
  const latenciesUs = rate > 0 ? await openLoop(rate, seconds, send) : await closedLoop(CONNECTIONS, seconds, send);
  return { latenciesUs, requests: latenciesUs.length, seconds: (Date.now() - t0) / 1000 };
}

async function parent(): Promise<void> {
  const ca = await MeshCa.generate({ trustDomain: "cluster.local", authorizer: () => true });
  const [clientCert, wpCert, podCert] = await Promise.all([
    benchCert(ca, CLIENT_ID),
    benchCert(ca, WAYPOINT_ID),
    benchCert(ca, POD_ID),
  ]);
  const pod = await startBenchPod(podCert, POD_IP);
  const proc = fork(fileURLToPath(import.meta.url), ["child"], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, WAYPOINT_BENCH_INPUT: JSON.stringify({ wpCert, podHbonePort: pod.port }) },
  });
  const [{ port: wpPort }] = (await once(proc, "message")) as [{ port: number }];
  const pool = new HbonePool({ certs: () => clientCert });
  const direct = agentVia(
    () =>
      pool.connect({
        address: `${POD_IP}:${pod.port}`,
        target: `${POD_IP}:${APP_PORT_NAME}`,
        expectedIdentities: [POD_ID],
      }),
    CONNECTIONS,
  );
  const viaWaypoint = agentVia(
    () => pool.connect({ address: `127.0.0.1:${wpPort}`, target: `${VIP}:80`, expectedIdentities: [WAYPOINT_ID] }),
    CONNECTIONS,
  );
  // Warm up both paths (TLS sessions, JIT).
  await load(direct, "app", 0, 1);
  await load(viaWaypoint, `${VIP}:80`, 0, 1);

  console.log(
    `waypoint benchmark: HTTP/1.1, 1 KiB responses, ${CONNECTIONS} connections, ${SECONDS} s per run (shared 2-core machine: noisy)\n`,
  );
  const rows: string[] = [];
  for (const rate of [1000, 0]) {
    const d = await load(direct, "app", rate, SECONDS);
    const cpu0 = cpuMs(proc.pid!);
    const w = await load(viaWaypoint, `${VIP}:80`, rate, SECONDS);
    const cpu = cpuMs(proc.pid!) - cpu0;
    const label = rate > 0 ? "1,000 req/s" : "max rate";
    const ms = (us: number) => (us / 1000).toFixed(3);
    rows.push(
      `${label.padEnd(12)} direct ${(d.requests / d.seconds).toFixed(0).padStart(6)} req/s p50 ${ms(pct(d.latenciesUs, 50))} p90 ${ms(pct(d.latenciesUs, 90))} p99 ${ms(pct(d.latenciesUs, 99))} ms`,
      `${"".padEnd(12)} waypoint ${(w.requests / w.seconds).toFixed(0).padStart(4)} req/s p50 ${ms(pct(w.latenciesUs, 50))} p90 ${ms(pct(w.latenciesUs, 90))} p99 ${ms(pct(w.latenciesUs, 99))} ms`,
      `${"".padEnd(12)} added p50 ${ms(pct(w.latenciesUs, 50) - pct(d.latenciesUs, 50))} p90 ${ms(pct(w.latenciesUs, 90) - pct(d.latenciesUs, 90))} p99 ${ms(pct(w.latenciesUs, 99) - pct(d.latenciesUs, 99))} ms; ` +
        `throughput ratio ${(w.requests / w.seconds / (d.requests / d.seconds)).toFixed(2)}; ` +
        `waypoint CPU ${((cpu / 1000 / w.requests) * 1000).toFixed(3)} s per 1,000 req (= ${((cpu / 1000 / w.seconds) * (1000 / (w.requests / w.seconds))).toFixed(2)} vCPU per 1,000 req/s); RSS ${rssMb(proc.pid!).toFixed(0)} MB`,
    );
  }
  console.log(rows.join("\n"));
  direct.destroy();
  viaWaypoint.destroy();
  await pool.close();
  proc.send("stop");
  await once(proc, "exit");
  await pod.stop();
}

if (process.argv[2] === "child") await child();
else await parent();
