// Connections from the waypoint to endpoints: HBONE through the pool to `<endpoint ip>:15008` with `:authority`
// `<endpoint ip>:<target port>` and the endpoint's identity expected (data-plane.md §3.5 connect_originate), or
// plain TCP for endpoints outside the mesh. HTTP/1.1 rides keep-alive agents whose connections are tunnels;
// HTTP/2 (and gRPC) shares one session per endpoint.

import { Agent, type AgentOptions } from "node:http";
import { type ClientHttp2Session, connect as h2connect } from "node:http2";
import { connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import { AmbitError } from "../../errors.js";
import type { WaypointEndpoint } from "../../xds/waypoint-config.js";
import type { HbonePool } from "../hbone/pool.js";
import { socketLike } from "./socket-like.js";

export interface UpstreamOptions {
  pool: HbonePool;
  /** Port of the destination's HBONE listener; default 15008. */
  hbonePort: number;
  connectTimeoutMs: number;
}

/** An upstream address could not be reached (Envoy's UF: connect failure / refused stream). */
export class ConnectFailure extends AmbitError {
  constructor(message: string, cause?: unknown) {
    super("AMBIT_WAYPOINT_UPSTREAM_CONNECT", message, { cause });
  }
}

const key = (e: WaypointEndpoint, port: number) => `${e.hbone ? "hbone" : "tcp"}|${e.address}|${port}|${e.identity}`;

class TunnelAgent extends Agent {
  constructor(
    private readonly open: () => Promise<Duplex>,
    opts: AgentOptions,
  ) {
    super(opts);
  }

  // Node's Agent accepts an asynchronous createConnection that answers through the callback.
  override createConnection(_opts: unknown, cb: (err: Error | null, s?: Duplex) => void): undefined {
    this.open().then(
      (s) => cb(null, socketLike(s)),
      (e: Error) => cb(e),
    );
    return undefined;
  }
}

export class Upstreams {
  readonly #agents = new Map<string, Agent>();
  readonly #h2 = new Map<string, Promise<ClientHttp2Session>>();

  constructor(private readonly opts: UpstreamOptions) {}

  /** A byte stream to the endpoint's target port; rejects with ConnectFailure. */
  async connect(e: WaypointEndpoint, port: number): Promise<Duplex> {
    if (e.hbone) {
      try {
        return await this.opts.pool.connect({
          address: e.address.includes(":")
            ? `[${e.address}]:${this.opts.hbonePort}`
            : `${e.address}:${this.opts.hbonePort}`,
          target: e.address.includes(":") ? `[${e.address}]:${port}` : `${e.address}:${port}`,
          expectedIdentities: [e.identity],
        });
      } catch (err) {
        throw new ConnectFailure(`HBONE to ${e.address}:${port} failed: ${(err as Error).message}`, err);
      }
    }
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ host: e.address, port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => s.destroy(new Error("connect timeout")), this.opts.connectTimeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.off("error", onError);
        resolve(s);
      });
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new ConnectFailure(`TCP to ${e.address}:${port} failed: ${err.message}`, err));
      };
      s.once("error", onError);
    });
  }

  /** The keep-alive agent for HTTP/1.1 to this endpoint and port. */
  agent(e: WaypointEndpoint, port: number): Agent {
    const k = key(e, port);
    let a = this.#agents.get(k);
    if (!a) {
      a = new TunnelAgent(() => this.connect(e, port), { keepAlive: true, scheduling: "lifo" });
      this.#agents.set(k, a);
    }
    return a;
  }

  /** The shared HTTP/2 session to this endpoint and port (dialed on first use, redialed once it closes). */
  session(e: WaypointEndpoint, port: number): Promise<ClientHttp2Session> {
    const k = key(e, port);
    let p = this.#h2.get(k);
    if (!p) {
      p = this.connect(e, port).then((stream) => {
        const s = h2connect(`http://${e.address}:${port}`, { createConnection: () => socketLike(stream) });
        const forget = () => {
          if (this.#h2.get(k) === p) this.#h2.delete(k);
        };
        s.on("error", forget);
        s.once("goaway", forget);
        s.once("close", forget);
        return s;
      });
      p.catch(() => this.#h2.delete(k));
      this.#h2.set(k, p);
    }
    return p;
  }

  /** Drops connections to endpoints that left the config. */
  retain(addresses: ReadonlySet<string>): void {
    for (const [k, a] of this.#agents) {
      if (!addresses.has(k.split("|")[1]!)) {
        a.destroy();
        this.#agents.delete(k);
      }
    }
    for (const [k, p] of this.#h2) {
      if (!addresses.has(k.split("|")[1]!)) {
        this.#h2.delete(k);
        p.then(
          (s) => s.close(),
          () => {},
        );
      }
    }
  }

  async close(): Promise<void> {
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
    const sessions = [...this.#h2.values()];
    this.#h2.clear();
    await Promise.all(
      sessions.map((p) =>
        p.then(
          (s) => new Promise<void>((r) => (s.closed ? r() : s.close(() => r()))),
          () => {},
        ),
      ),
    );
  }
}
