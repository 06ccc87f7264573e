// bench:up — `ambit up` on a copy of examples/bookinfo: time to all pods ready, policy-edit latency (save → the
// first request decided by it, 20 edits), and the up process's CPU and RSS at idle and at 1,000 req/s through
// productpage (a Node load generator inside the curl pod). Shared 2-core machine: numbers are noisy.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readState } from "../src/local/state-file.js";

const PREFIX = `ambench${process.pid % 1000}`;
const dir = mkdtempSync(join(tmpdir(), "ambit-bench-"));
cpSync("examples/bookinfo", dir, { recursive: true });
rmSync(join(dir, "policies.yaml"));
const TICK = 100; // clock ticks per second on Linux

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK;
}
function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const t0 = performance.now();
const up: ChildProcess = spawn(
  process.execPath,
  ["--import", "tsx", "src/cli/main.ts", "up", dir, "--prefix", PREFIX],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
let out = "";
up.stdout?.on("data", (d: Buffer) => {
  out += d.toString();
});
while (!out.includes("Try:")) await sleep(20);
const readyMs = performance.now() - t0;
const state = readState(PREFIX)!;
const curl = state.pods.find((p) => p.name.startsWith("curl-"))!;
const get = () =>
  spawnSync("ip", [
    "netns",
    "exec",
    curl.netns,
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "-m",
    "5",
    "http://productpage:9080/productpage",
  ]).stdout.toString();

const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bench-deny, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: productpage}]
  action: DENY
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
`;
const latencies: number[] = [];
for (let i = 0; i < 20; i++) {
  const deny = i % 2 === 0;
  const start = performance.now();
  if (deny) writeFileSync(join(dir, "bench-deny.yaml"), DENY);
  else unlinkSync(join(dir, "bench-deny.yaml"));
  while (get() !== (deny ? "403" : "200")) {}
  latencies.push(performance.now() - start);
}

const pid = up.pid!;
const idleCpu0 = cpuSeconds(pid);
await sleep(5_000);
const idle = { cpu: (cpuSeconds(pid) - idleCpu0) / 5, rss: rssMiB(pid) };

const LOAD = `const http=require('http');const agent=new http.Agent({keepAlive:true,maxSockets:16});let ok=0,bad=0;
const t=setInterval(()=>{for(let i=0;i<10;i++)http.get({host:'productpage',port:9080,path:'/productpage',agent},r=>{r.resume();r.statusCode===200?ok++:bad++}).on('error',()=>bad++)},10);
setTimeout(()=>{clearInterval(t);setTimeout(()=>{console.log(JSON.stringify({ok,bad}));process.exit(0)},1000)},10000);`;
const loadCpu0 = cpuSeconds(pid);
const load = spawnSync("ip", ["netns", "exec", curl.netns, process.execPath, "-e", LOAD], { timeout: 30_000 });
// spawnSync blocks this process, so RSS is read right after the load (the up process keeps its heap).
const loadRss = rssMiB(pid);
const loadCpu = (cpuSeconds(pid) - loadCpu0) / 11;
const counts = load.stdout.toString().trim();

up.kill("SIGTERM");
await new Promise((r) => up.once("exit", r));
rmSync(dir, { recursive: true, force: true });

console.log(
  `ambit up examples/bookinfo → all pods ready: ${readyMs.toFixed(0)} ms (goal < 10,000 ms; ratio ${(readyMs / 10_000).toFixed(2)})`,
);
console.log(
  `policy save → first request decided by it (20 edits): p50 ${pct(latencies, 0.5).toFixed(0)} ms, p99 ${pct(latencies, 0.99).toFixed(0)} ms (goal p99 < 500 ms; ratio ${(pct(latencies, 0.99) / 500).toFixed(2)})`,
);
console.log(`up process at idle: ${idle.cpu.toFixed(3)} vCPU, RSS ${idle.rss.toFixed(0)} MiB`);
const achieved = (JSON.parse(counts || '{"ok":0}') as { ok: number }).ok / 10;
console.log(
  `up process, 1,000 req/s offered to productpage (achieved ${achieved.toFixed(0)} req/s): ${loadCpu.toFixed(3)} vCPU, RSS after ${loadRss.toFixed(0)} MiB`,
);
