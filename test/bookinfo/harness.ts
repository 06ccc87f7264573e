// Runs the Bookinfo apps as real child processes on loopback ephemeral ports, plus in-process stand-ins that
// record what reaches them; everything started here is stopped by the caller's `after` hook.

import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const READY = /Server listening on: http:\/\/[^\s]+:(\d+)/;

export type AppName = "productpage" | "details" | "reviews" | "ratings";

export type App = { name: AppName; port: number; output: () => string; stop: () => Promise<void> };

// The environment the Istio sample's Deployments give each reviews version.
export const REVIEWS_ENV = {
  v1: { ENABLE_RATINGS: "false", HOSTNAME: "reviews-v1-5d6c8b8b4-x7k2p" },
  v2: { ENABLE_RATINGS: "true", STAR_COLOR: "black", HOSTNAME: "reviews-v2-7f9c6b6d5-q4m8n" },
  v3: { ENABLE_RATINGS: "true", STAR_COLOR: "red", HOSTNAME: "reviews-v3-6c8d9f7b9-h2j5w" },
} as const;

export function startApp(name: AppName, env: Record<string, string> = {}): Promise<App> {
  const child = spawn(process.execPath, ["--import", "tsx", `examples/bookinfo/apps/${name}.ts`, "0"], {
    cwd: REPO,
    env: { ...process.env, LISTEN_ADDRESS: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const app = (port: number): App => ({ name, port, output: () => output, stop: () => stopChild(child, exited) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not start within 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const m = READY.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(app(Number(m[1])));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString("utf8");
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${name} exited with ${code} before listening:\n${output}`), { exitCode: code }));
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

// Where a service's callers must look for it: the sample's variable names, pointed at loopback.
export function locate(service: "details" | "reviews" | "ratings", port: number): Record<string, string> {
  const upper = service.toUpperCase();
  return { [`${upper}_HOSTNAME`]: "127.0.0.1", [`${upper}_SERVICE_PORT`]: String(port) };
}

// A port nothing listens on: bound, noted, released.
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; at: number };
export type Recorder = { port: number; seen: Seen[]; close: () => Promise<void> };

// A stand-in backend: records each request, then lets `answer` reply (it may delay or never answer).
export async function startRecorder(
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, at: Date.now() });
    req.resume();
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(res: http.ServerResponse, status: number, body: unknown, delayMs = 0): void {
  const send = () => {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (delayMs > 0) setTimeout(send, delayMs).unref();
  else send();
}

export type Reply = { status: number; headers: http.IncomingHttpHeaders; text: string; ms: number };

export function request(
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
          ms: Date.now() - started,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const r = await request("GET", url, { headers });
  return { status: r.status, body: JSON.parse(r.text) };
}

export function url(app: { port: number }, path: string): string {
  return `http://127.0.0.1:${app.port}${path}`;
}
