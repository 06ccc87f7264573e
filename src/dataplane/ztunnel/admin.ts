// ztunnel's three HTTP ports (data-plane.md §2.1): 15000 admin (`/config_dump`, localhost only), 15020 metrics
// (`/metrics`, `/stats/prometheus`), 15021 readiness (`/healthz/ready`).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface AdminPorts {
  admin: number;
  metrics: number;
  readiness: number;
}

export interface AdminHandlers {
  registry: Registry;
  ready(): boolean;
  configDump(): unknown;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function route(routes: Record<string, Handler>): Handler {
  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const h = routes[path];
    if (!h) return reply(res, 404, "text/plain", "not found\n");
    try {
      await h(req, res);
    } catch (e) {
      reply(res, 500, "text/plain", `${e instanceof Error ? e.message : String(e)}\n`);
    }
  };
}

export class AdminServers {
  readonly #servers: Server[] = [];
  readonly #handlers: AdminHandlers;

  constructor(handlers: AdminHandlers) {
    this.#handlers = handlers;
  }

  /** Binds the three ports (0 picks free ones); admin stays on `adminHost`, the others on `host`. */
  async start(ports: AdminPorts, host: string, adminHost: string): Promise<AdminPorts> {
    const h = this.#handlers;
    const metrics = route({
      "/metrics": async (_q, res) => reply(res, 200, h.registry.contentType, await h.registry.metrics()),
      "/stats/prometheus": async (_q, res) => reply(res, 200, h.registry.contentType, await h.registry.metrics()),
    });
    const readiness = route({
      "/healthz/ready": (_q, res) =>
        h.ready() ? reply(res, 200, "text/plain", "ready\n") : reply(res, 503, "text/plain", "not ready\n"),
    });
    const admin = route({
      "/config_dump": (_q, res) => reply(res, 200, "application/json", `${JSON.stringify(h.configDump(), null, 2)}\n`),
    });
    return {
      admin: await this.#listen(admin, ports.admin, adminHost),
      metrics: await this.#listen(metrics, ports.metrics, host),
      readiness: await this.#listen(readiness, ports.readiness, host),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  #listen(handler: Handler, port: number, host: string): Promise<number> {
    const server = createServer((req, res) => void handler(req, res));
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }
}
