// The waypoint's own endpoints, as Istio's proxies expose them: Prometheus metrics on 15020 (`/metrics`,
// `/stats/prometheus`) and readiness on 15021 (`/healthz/ready`: 200 only while configured and serving).

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface AdminOptions {
  metrics: () => Promise<string>;
  ready: () => boolean;
}

export function metricsServer(o: AdminOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics" || path === "/stats/prometheus") {
      o.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (path === "/healthz/ready") return readyAnswer(o, res);
    res.writeHead(404);
    res.end();
  });
}

export function readinessServer(o: AdminOptions): Server {
  return createServer((req, res) => {
    if ((req.url ?? "/").split("?")[0] === "/healthz/ready") return readyAnswer(o, res);
    res.writeHead(404);
    res.end();
  });
}

function readyAnswer(o: AdminOptions, res: import("node:http").ServerResponse): void {
  const ok = o.ready();
  res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
  res.end(ok ? "ready\n" : "not ready\n");
}

export function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
