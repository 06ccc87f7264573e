// What the four Bookinfo services share: how they listen, answer JSON, find each other and call each other.
// Kept to node:http so each service stays a plain script a pod can run with `node --import tsx <file> 9080`.

import http from "node:http";

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => void | Promise<void>;

// Trace context: what lets the mesh stitch one trace and one access-log id across hops (user-needs §6).
export const TRACE_HEADERS = [
  "x-request-id",
  "traceparent",
  "tracestate",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "b3",
  "x-ot-span-context",
  "x-datadog-trace-id",
  "x-datadog-parent-id",
  "x-datadog-sampling-priority",
  "x-cloud-trace-context",
  "grpc-trace-bin",
  "sw8",
] as const;

// What every in-mesh hop copies from its inbound request to its outbound calls: the trace context plus the
// caller's identity headers, which the mesh's routing and policy (e.g. JWT, `end-user` matches) look at.
export const PROPAGATED_HEADERS = [...TRACE_HEADERS, "user-agent", "cookie", "authorization", "jwt"] as const;

export function pickHeaders(req: http.IncomingMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
    else if (Array.isArray(value)) out[name] = value.join(", ");
  }
  return out;
}

// The sample's service discovery: `<NAME>_HOSTNAME` (default the service name), `SERVICES_DOMAIN` appended
// when set, `<NAME>_SERVICE_PORT` (default 9080; Kubernetes injects this variable for every Service).
export function serviceBase(service: "details" | "reviews" | "ratings", env = process.env): string {
  const upper = service.toUpperCase();
  const host = env[`${upper}_HOSTNAME`] ?? service;
  const domain = env.SERVICES_DOMAIN ? `.${env.SERVICES_DOMAIN}` : "";
  const port = env[`${upper}_SERVICE_PORT`] ?? "9080";
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${hostPart}${domain}:${port}`;
}

// status 0: no HTTP answer at all (refused, reset, timed out); `error` then says why.
export type Fetched = { status: number; body: unknown; error?: string };

// One GET with a deadline for the whole exchange (connect, headers and body), as the sample's clients have;
// a refused connection, a timeout or a non-JSON body all come back as a value, never a throw.
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Fetched> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { accept: "application/json", ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => finish({ status: 0, body: undefined, error: e.message }));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          finish({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          finish({ status: res.statusCode ?? 0, body: text });
        }
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (e) => finish({ status: 0, body: undefined, error: e.message }));
    let done = false;
    function finish(r: Fetched): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    }
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) req.destroy(new Error("request body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// The port comes from argv as in the sample (`node ratings.js 9080`); 0 asks the OS for a free one (tests).
// LISTEN_ADDRESS is ours: unset means every interface, like the originals.
export function serve(name: string, handler: Handler): http.Server {
  const port = Number.parseInt(process.argv[2] ?? "9080", 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`usage: ${name} <port>`);
    process.exit(2);
  }
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://local").pathname;
    console.log(`${new Date().toISOString()} ${name} ${req.method} ${req.url}`);
    Promise.resolve(handler(req, res, path)).catch((e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  const host = process.env.LISTEN_ADDRESS;
  server.listen(port, host, () => {
    const addr = server.address();
    const bound = typeof addr === "object" && addr ? addr.port : port;
    console.log(`${name}: Server listening on: http://${host ?? "0.0.0.0"}:${bound}`);
  });
  // A pod is stopped with SIGTERM: stop accepting, drop idle keep-alive sockets, and exit cleanly.
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return server;
}
