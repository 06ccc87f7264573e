// Benchmark: time a proxy-wasm plugin adds per request. Two parts:
//  1. host callbacks in a tight loop (context create, request headers, response headers, done/log/delete) for a
//     realistic header set: no plugin vs the no-op plugin vs add-header;
//  2. a minimal Node HTTP proxy in front of an origin, driven at 1,000 req/s, with the same three variants.
// Run with `npm run bench:wasm`. The machine is shared (2 cores, other work running): expect 10-20 % noise.

import { readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { buildExamples } from "../examples/wasm/build.js";
import type { HeaderMap } from "../src/dataplane/wasm/header-map.js";
import { WasmPluginHost } from "../src/dataplane/wasm/host.js";
import type { Plugin } from "../src/dataplane/wasm/types.js";
import { realisticRequest } from "../test/wasm/helpers.js";

const LOOP_REQUESTS = 50_000;
const LOOP_WARMUP = 5_000;
const RATE = 1_000;
const PROXY_ROUNDS = 3;
const ROUND_SECONDS = 1;
const AUTHORITY = "productpage.bookinfo:9080";

function responseHeaders(): HeaderMap {
  return [
    [":status", "200"],
    ["content-type", "text/html; charset=utf-8"],
    ["content-length", "5183"],
    ["date", "Mon, 01 Jan 2024 00:00:00 GMT"],
    ["server", "istio-envoy"],
  ];
}

interface Stats {
  p50: number;
  p99: number;
  mean: number;
}

function stats(samplesUs: number[]): Stats {
  const s = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** One request's worth of filter work; with no plugin only the header maps are built (the baseline). */
function oneRequest(plugin: Plugin | undefined): void {
  const req = realisticRequest(AUTHORITY);
  const res = responseHeaders();
  if (plugin === undefined) return;
  const ctx = plugin.newHttpContext({ "source.address": "10.0.0.1", "source.port": 40000 });
  ctx.onRequestHeaders(req, true);
  ctx.onResponseHeaders(res, false);
  ctx.onDone();
  ctx.onLog();
  ctx.delete();
}

function loop(plugin: Plugin | undefined): Stats {
  for (let i = 0; i < LOOP_WARMUP; i++) oneRequest(plugin);
  const samples = new Array<number>(LOOP_REQUESTS);
  for (let i = 0; i < LOOP_REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    oneRequest(plugin);
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return stats(samples);
}

function toHeaderMap(req: http.IncomingMessage): HeaderMap {
  const map: HeaderMap = [
    [":method", req.method ?? "GET"],
    [":path", req.url ?? "/"],
    [":authority", req.headers.host ?? ""],
  ];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!.toLowerCase();
    if (k !== "host") map.push([k, req.rawHeaders[i + 1]!]);
  }
  return map;
}

/** A minimal proxy: the plugin sees request and response headers; edits are applied to what is forwarded. */
function startProxy(originPort: number, plugin: () => Plugin | undefined): Promise<http.Server> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const p = plugin();
    const ctx = p?.newHttpContext({ "source.address": req.socket.remoteAddress ?? "" });
    const reqHeaders = toHeaderMap(req);
    ctx?.onRequestHeaders(reqHeaders, true);
    const headers: Record<string, string> = {};
    for (const [k, v] of reqHeaders) if (!k.startsWith(":")) headers[k] = v;
    const up = http.request(
      { port: originPort, host: "127.0.0.1", method: req.method, path: req.url, headers, agent },
      (upRes) => {
        const resHeaders: HeaderMap = [[":status", String(upRes.statusCode)]];
        for (let i = 0; i < upRes.rawHeaders.length; i += 2)
          resHeaders.push([upRes.rawHeaders[i]!.toLowerCase(), upRes.rawHeaders[i + 1]!]);
        ctx?.onResponseHeaders(resHeaders, false);
        const out: Array<[string, string]> = resHeaders.filter(([k]) => !k.startsWith(":"));
        res.writeHead(upRes.statusCode ?? 502, out.flat());
        upRes.pipe(res);
        res.on("finish", () => {
          ctx?.onDone();
          ctx?.onLog();
          ctx?.delete();
        });
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function drive(port: number, samples: number[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = RATE * ROUND_SECONDS;
  const started = process.hrtime.bigint();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    // Open-loop schedule: request i is due at i/RATE seconds, whatever happened to earlier ones.
    const due = started + BigInt(Math.round((i * 1e9) / RATE));
    const wait = Number(due - process.hrtime.bigint()) / 1e6;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      new Promise<void>((resolve) => {
        const t0 = process.hrtime.bigint();
        const req = http.get(
          { port, host: "127.0.0.1", path: "/productpage?u=normal", agent, headers: { "user-agent": "bench" } },
          (res) => {
            res.resume();
            res.on("end", () => {
              samples.push(Number(process.hrtime.bigint() - t0) / 1000);
              resolve();
            });
          },
        );
        req.on("error", () => resolve());
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
}

function row(name: string, s: Stats, base: Stats): string {
  const cell = (v: number) => v.toFixed(2).padStart(9);
  return `${name.padEnd(22)}${cell(s.p50)}${cell(s.mean)}${cell(s.p99)}${cell(s.p50 - base.p50)}${cell(s.mean - base.mean)}${(s.mean / base.mean).toFixed(2).padStart(8)}x`;
}

const header = `${"variant".padEnd(22)}${"p50 µs".padStart(9)}${"mean µs".padStart(9)}${"p99 µs".padStart(9)}${"+p50".padStart(9)}${"+mean".padStart(9)}${"ratio".padStart(9)}`;

async function main(): Promise<void> {
  const paths = await buildExamples();
  const host = new WasmPluginHost();
  const noop = await host.loadPlugin({ name: "bench/noop", bytes: await readFile(paths.noop!) });
  const addHeader = await host.loadPlugin({
    name: "bench/add-header",
    bytes: await readFile(paths["add-header"]!),
    pluginConfig: { name: "x-wasm", value: "bench" },
  });
  const variants: Array<[string, Plugin | undefined]> = [
    ["no plugin", undefined],
    ["no-op plugin", noop],
    ["add-header plugin", addHeader],
  ];

  process.stdout.write(
    `\n1. Host callbacks per request, tight loop (${LOOP_REQUESTS} requests, ${realisticRequest(AUTHORITY).length} request headers)\n`,
  );
  process.stdout.write(`${header}\n`);
  const loopResults = variants.map(([name, p]) => [name, loop(p)] as const);
  const loopBase = loopResults[0]![1];
  for (const [name, s] of loopResults) process.stdout.write(`${row(name, s, loopBase)}\n`);

  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<html>ok</html>");
  });
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", () => r()));
  const originPort = (origin.address() as AddressInfo).port;
  let current: Plugin | undefined;
  const proxy = await startProxy(originPort, () => current);
  const proxyPort = (proxy.address() as AddressInfo).port;

  const rounds = `${PROXY_ROUNDS} interleaved rounds of ${ROUND_SECONDS} s per variant`;
  process.stdout.write(`\n2. Node HTTP proxy, open loop at ${RATE} req/s, ${rounds} (client latency)\n`);
  process.stdout.write(`${header}\n`);
  const samples = variants.map(() => [] as number[]);
  current = undefined;
  await drive(proxyPort, []);
  // Interleaving spreads the machine's background noise over all variants instead of one.
  for (let round = 0; round < PROXY_ROUNDS; round++) {
    for (const [i, [, p]] of variants.entries()) {
      current = p;
      await drive(proxyPort, samples[i]!);
    }
  }
  const proxyResults = variants.map(([name], i) => [name, stats(samples[i]!)] as const);
  const proxyBase = proxyResults[0]![1];
  for (const [name, s] of proxyResults) process.stdout.write(`${row(name, s, proxyBase)}\n`);

  const noopAdded = loopResults[1]![1].p50 - loopBase.p50;
  process.stdout.write(
    `\nGoal: a no-op plugin adds < 50 µs p50 → ${noopAdded.toFixed(2)} µs in the loop (${noopAdded < 50 ? "met" : "NOT met"})\n`,
  );
  process.stdout.write("Numbers are from a shared 2-core machine; rerun to gauge the noise.\n");

  proxy.closeAllConnections();
  origin.closeAllConnections();
  proxy.close();
  origin.close();
  host.close();
}

await main();
