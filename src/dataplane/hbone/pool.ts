// The HBONE client pool: HTTP/2 sessions over mutual TLS keyed by (source identity, expected destination
// identities, destination address); at most 100 concurrent streams per session, one dial per key under a burst,
// idle release, PING keepalive (data-plane.md §1.5).

import { X509Certificate } from "node:crypto";
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as h2connect,
  type OutgoingHttpHeaders,
} from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import { AmbitError } from "../../errors.js";
import { identityFromSans } from "../../identity/spiffe.js";
import { newTraceparent, parseAuthority } from "./headers.js";
import { startKeepalive } from "./keepalive.js";
import { surfaceResets } from "./reset.js";
import {
  CLIENT_SETTINGS,
  CONNECT_TIMEOUT_MS,
  CONNECTION_WINDOW,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_SESSION_MEMORY_MB,
  MAX_STREAMS_PER_SESSION,
  POOL_IDLE_TIMEOUT_MS,
  TCP_KEEPALIVE_MS,
} from "./settings.js";
import {
  ALPN,
  type CertProvider,
  type CertSource,
  secureContextFor,
  untrustedPeer,
  verifyServerIdentity,
} from "./tls.js";

/** Where the pool's transport connection goes, and the source it is dialed for (`ConnectRequest.source`). */
export interface DialTarget {
  host: string;
  port: number;
  source?: string;
}

/**
 * Supplies a connected TCP socket for a new session, e.g. one created inside the source pod's netns so the far
 * side sees the pod's IP (data-plane.md §2.2, §2.5). `key` is the session's pool key.
 */
export type HboneDialer = (target: DialTarget, key: string) => Promise<Socket>;

export interface HbonePoolOptions {
  certs: CertProvider;
  /** The transport for each new session; default a plain TCP connect from this process's netns. */
  dial?: HboneDialer;
  maxStreamsPerSession?: number;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
}

export interface ConnectRequest {
  /** The HBONE endpoint, `ip:15008`. */
  address: string;
  /** The CONNECT `:authority`: where the far side should deliver the bytes. */
  target: string;
  /** The server must present one of these SPIFFE identities. */
  expectedIdentities: readonly string[];
  /**
   * The source this tunnel is opened for (e.g. the client pod's IP). Part of the pool key, so sessions dialed for
   * one source never carry another's traffic; handed to the dialer.
   */
  source?: string;
  /** Extra request headers (`baggage`, `forwarded`, ...); a fresh `traceparent` is added unless given. */
  headers?: OutgoingHttpHeaders;
}

export interface PoolStats {
  /** Sessions currently pooled. */
  sessions: number;
  /** TLS dials started since the pool was made. */
  dials: number;
  /** Streams currently open. */
  streams: number;
}

interface PooledSession {
  key: string;
  session: ClientHttp2Session;
  active: number;
  idle: NodeJS.Timeout | undefined;
}

const STATUS_CODES: Record<number, string> = {
  400: "AMBIT_HBONE_BAD_REQUEST",
  401: "AMBIT_HBONE_DENIED",
  503: "AMBIT_HBONE_UNAVAILABLE",
};

export class HbonePool {
  readonly #certs: CertProvider;
  readonly #dialer: HboneDialer | undefined;
  readonly #maxStreams: number;
  readonly #idleMs: number;
  readonly #connectTimeoutMs: number;
  readonly #keepalive: [number, number];
  readonly #sessions = new Map<string, PooledSession[]>();
  readonly #dials = new Map<string, Promise<void>>();
  #identityCache: { src: CertSource; identity: string } | undefined;
  #dialCount = 0;
  #streamCount = 0;
  #closed = false;

  constructor(opts: HbonePoolOptions) {
    this.#certs = opts.certs;
    this.#dialer = opts.dial;
    this.#maxStreams = opts.maxStreamsPerSession ?? MAX_STREAMS_PER_SESSION;
    this.#idleMs = opts.idleTimeoutMs ?? POOL_IDLE_TIMEOUT_MS;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.#keepalive = [
      opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
      opts.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
    ];
  }

  stats(): PoolStats {
    let sessions = 0;
    for (const list of this.#sessions.values()) sessions += list.length;
    return { sessions, dials: this.#dialCount, streams: this.#streamCount };
  }

  /**
   * Opens a tunnel: resolves with the CONNECT stream once the server answered 200, so bytes written to it reach
   * the target. Close it with `end()` (half-close), not `destroy()`.
   */
  async connect(req: ConnectRequest): Promise<Duplex> {
    const src = this.#certs();
    const key = `${this.#sourceIdentity(src)}|${[...req.expectedIdentities].sort().join(",")}|${req.source ?? ""}|${req.address}`;
    for (;;) {
      if (this.#closed) throw new AmbitError("AMBIT_HBONE_POOL_CLOSED", "the HBONE pool is closed");
      const pooled = this.#checkout(key);
      if (pooled) return this.#open(pooled, req);
      // Concurrent callers for one key wait on the same dial instead of each opening a connection.
      let dial = this.#dials.get(key);
      if (!dial) {
        dial = this.#dial(key, src, req).finally(() => this.#dials.delete(key));
        this.#dials.set(key, dial);
      }
      await dial;
    }
  }

  /** Closes every session gracefully (GOAWAY; open tunnels finish) and refuses new tunnels. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#sessions.values()].flat();
    this.#sessions.clear();
    await Promise.all(
      all.map((p) => {
        clearTimeout(p.idle);
        return new Promise<void>((resolve) => (p.session.closed ? resolve() : p.session.close(() => resolve())));
      }),
    );
  }

  #sourceIdentity(src: CertSource): string {
    if (this.#identityCache?.src !== src) {
      const leaf = new X509Certificate(Array.isArray(src.cert) ? src.cert[0] : src.cert);
      this.#identityCache = { src, identity: identityFromSans(leaf.subjectAltName) ?? "" };
    }
    return this.#identityCache.identity;
  }

  #checkout(key: string): PooledSession | undefined {
    const list = this.#sessions.get(key);
    if (!list) return undefined;
    for (const p of list) {
      const s = p.session;
      if (s.closed || s.destroyed) continue;
      const limit = Math.min(this.#maxStreams, s.remoteSettings.maxConcurrentStreams ?? this.#maxStreams);
      if (p.active < limit) return p;
    }
    return undefined;
  }

  async #dial(key: string, src: CertSource, req: ConnectRequest): Promise<void> {
    const addr = parseAuthority(req.address);
    if (!addr) throw new AmbitError("AMBIT_HBONE_BAD_ADDRESS", `bad HBONE address "${req.address}"`);
    this.#dialCount++;
    const expected = [...req.expectedIdentities];
    const deadline = Date.now() + this.#connectTimeoutMs;
    const tls = {
      secureContext: secureContextFor(src),
      ALPNProtocols: ALPN,
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => verifyServerIdentity(cert, expected),
    };
    let socket: TLSSocket;
    if (this.#dialer) {
      const tcp = await this.#transport(
        this.#dialer,
        { ...addr, ...(req.source ? { source: req.source } : {}) },
        key,
        req.address,
      );
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true, TCP_KEEPALIVE_MS);
      // host: the IP, so Node sends no SNI (it would default the server name to "localhost").
      socket = tlsConnect({ socket: tcp, host: addr.host, port: addr.port, ...tls });
    } else {
      socket = tlsConnect({ host: addr.host, port: addr.port, ...tls });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    }
    await this.#handshake(socket, req.address, Math.max(0, deadline - Date.now()));
    const session = h2connect(`https://${req.address}`, {
      createConnection: () => socket,
      settings: CLIENT_SETTINGS,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      peerMaxConcurrentStreams: this.#maxStreams,
    });
    const pooled: PooledSession = { key, session, active: 0, idle: undefined };
    session.once("connect", () => session.setLocalWindowSize(CONNECTION_WINDOW));
    const stopKeepalive = startKeepalive(session, this.#keepalive[0], this.#keepalive[1]);
    session.on("error", () => {
      // Streams on the session get their own errors; the session is dropped on close.
    });
    const drop = () => this.#remove(pooled);
    session.once("goaway", drop);
    session.once("close", () => {
      stopKeepalive();
      clearTimeout(pooled.idle);
      drop();
    });
    const list = this.#sessions.get(key) ?? [];
    list.push(pooled);
    this.#sessions.set(key, list);
    this.#armIdle(pooled);
  }

  /** The dialer's socket, within the connect timeout; a socket that arrives after it is closed. */
  #transport(dialer: HboneDialer, target: DialTarget, key: string, address: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(this.#timeout(address));
      }, this.#connectTimeoutMs);
      // Through a promise, so a dialer that throws synchronously is reported like one that rejects.
      Promise.resolve()
        .then(() => dialer(target, key))
        .then(
          (tcp) => {
            clearTimeout(timer);
            if (late) tcp.destroy();
            else resolve(tcp);
          },
          (err: unknown) => {
            clearTimeout(timer);
            if (late) return;
            const message = err instanceof Error ? err.message : String(err);
            reject(
              new AmbitError("AMBIT_HBONE_CONNECT_FAILED", `HBONE dial to ${address} failed: ${message}`, {
                cause: err,
              }),
            );
          },
        );
    });
  }

  #timeout(address: string): AmbitError {
    return new AmbitError(
      "AMBIT_HBONE_CONNECT_TIMEOUT",
      `no HBONE handshake with ${address} within ${this.#connectTimeoutMs} ms (maybe a NetworkPolicy is blocking port 15008)`,
    );
  }

  #handshake(socket: TLSSocket, address: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(this.#timeout(address));
      }, timeoutMs);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        if (socket.alpnProtocol !== "h2") {
          socket.destroy();
          reject(new AmbitError("AMBIT_HBONE_ALPN", `${address} did not negotiate ALPN h2`));
          return;
        }
        resolve();
      });
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err instanceof AmbitError) reject(err);
        else if (err.code && /CERT|VERIFY|SELF_SIGNED|ISSUER/.test(err.code)) reject(untrustedPeer(err, "server"));
        else
          reject(
            new AmbitError("AMBIT_HBONE_CONNECT_FAILED", `HBONE dial to ${address} failed: ${err.message}`, {
              cause: err,
            }),
          );
      };
      socket.once("error", onError);
    });
  }

  #remove(p: PooledSession): void {
    const list = this.#sessions.get(p.key);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#sessions.delete(p.key);
  }

  #armIdle(p: PooledSession): void {
    clearTimeout(p.idle);
    // Dropping the reference is enough: close() lets the session end once its last stream has.
    p.idle = setTimeout(() => {
      this.#remove(p);
      if (!p.session.closed) p.session.close();
    }, this.#idleMs).unref();
  }

  #open(p: PooledSession, req: ConnectRequest): Promise<Duplex> {
    p.active++;
    this.#streamCount++;
    clearTimeout(p.idle);
    p.idle = undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = p.session.request(
        { traceparent: newTraceparent(), ...req.headers, ":method": "CONNECT", ":authority": req.target },
        { endStream: false },
      );
    } catch (e) {
      this.#release(p);
      return Promise.reject(
        new AmbitError("AMBIT_HBONE_SESSION_CLOSED", `HBONE session to ${req.address} is unusable`, { cause: e }),
      );
    }
    stream.once("close", () => this.#release(p));
    return new Promise((resolve, reject) => {
      const settle = (err?: Error) => {
        stream.off("response", onResponse);
        stream.off("error", onError);
        stream.off("close", onClose);
        if (err) reject(err);
        else resolve(stream);
      };
      const onResponse = (headers: Record<string, unknown>) => {
        const status = Number(headers[":status"]);
        if (status === 200) {
          surfaceResets(stream, `tunnel to ${req.target} via ${req.address}`);
          return settle();
        }
        // Half-close our side and drain theirs: a reset here would count toward the server's rapid-reset guard.
        stream.end();
        stream.resume();
        stream.on("error", () => {});
        settle(
          new AmbitError(
            STATUS_CODES[status] ?? "AMBIT_HBONE_REFUSED",
            `HBONE CONNECT ${req.target} via ${req.address} answered ${status}`,
          ),
        );
      };
      const onError = (err: Error) =>
        settle(
          err instanceof AmbitError
            ? err
            : new AmbitError(
                "AMBIT_HBONE_SESSION_CLOSED",
                `HBONE CONNECT ${req.target} via ${req.address} failed: ${err.message}`,
                {
                  cause: err,
                },
              ),
        );
      const onClose = () =>
        settle(
          new AmbitError(
            "AMBIT_HBONE_SESSION_CLOSED",
            `HBONE connection to ${req.address} closed before CONNECT ${req.target} was answered (the server may have rejected our certificate)`,
          ),
        );
      stream.once("response", onResponse);
      stream.once("error", onError);
      stream.once("close", onClose);
    });
  }

  #release(p: PooledSession): void {
    p.active--;
    this.#streamCount--;
    if (p.active === 0 && !p.session.closed && this.#sessions.get(p.key)?.includes(p)) this.#armIdle(p);
  }
}
