// The HBONE server (port 15008): mutual TLS 1.3 with the workload's certificate, the client's chain and trust
// domain checked, then HTTP/2 CONNECT streams: validate → authorize → connect upstream → 200 → bytes
// (data-plane.md §1.2, §1.4, §3.2).

import { EventEmitter } from "node:events";
import {
  createServer as createH2Server,
  type Http2Server,
  constants as h2,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import { AmbitError } from "../../errors.js";
import { tryParseSpiffeId } from "../../identity/spiffe.js";
import { type Authority, parseAuthority } from "./headers.js";
import { startKeepalive } from "./keepalive.js";
import { surfaceResets } from "./reset.js";
import {
  CONNECTION_WINDOW,
  HANDSHAKE_TIMEOUT_MS,
  HBONE_PORT,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_SESSION_MEMORY_MB,
  SERVER_SETTINGS,
  TCP_KEEPALIVE_MS,
} from "./settings.js";
import { splice } from "./splice.js";
import { ALPN, type CertSource, peerIdentity, secureContextOptions, untrustedPeer } from "./tls.js";

export interface TunnelInfo {
  /** The client's SPIFFE identity, from its certificate. */
  peer: string;
  /** The CONNECT `:authority`. */
  target: Authority;
  headers: IncomingHttpHeaders;
  /** The address the HBONE connection arrived on (for the authority-IP check) and where it came from. */
  localAddress: string;
  remoteAddress: string;
  remotePort: number;
}

/** Refuse a tunnel with a status: 400 bad request, 401 denied, 503 upstream unavailable. */
export interface TunnelRejection {
  status: 400 | 401 | 503;
  reason: string;
}

/** An upstream with headers for the 200 (ztunnel's response `baggage` for the destination workload). */
export interface AcceptedTunnel {
  upstream: Duplex;
  responseHeaders: Record<string, string>;
}

/** `true` allows; `false` or a reason denies with 401; a TunnelRejection picks the status. */
export type TunnelVerdict = boolean | string | TunnelRejection;

export interface HboneServerOptions {
  /** Default 15008; 0 picks a free port. */
  port?: number;
  host?: string;
  /**
   * Binds the listener instead of `listen({port, host})`, e.g. on a socket inside a pod's network namespace
   * (in-pod mode: the proxy lives in another netns than the address it serves). Resolves once listening.
   */
  listen?: (server: NetServer) => Promise<unknown>;
  /**
   * The certificate to serve with, asked for each new connection. A promise (the workload's first certificate is
   * still being issued) holds the connection, unread, until it settles or `certWaitMs` passes, as ztunnel waits
   * for its certificate fetch instead of refusing the client.
   */
  certs: ServerCertProvider;
  /** How long a new connection waits for a certificate that is still being issued (default: handshake timeout). */
  certWaitMs?: number;
  /** Clients must hold an identity in this trust domain. */
  trustDomain: string;
  /** Runs before anything is dialed; anything but `true` refuses the tunnel. */
  authorize?: (peer: string, target: Authority, headers: IncomingHttpHeaders) => TunnelVerdict | Promise<TunnelVerdict>;
  /**
   * Dials the destination before 200 is sent; a throw or a TunnelRejection answers 503 (or the rejection's
   * status). The server then copies bytes both ways with half-close. Sockets must be allowHalfOpen.
   */
  connectUpstream?: (info: TunnelInfo) => Promise<Duplex | AcceptedTunnel | TunnelRejection>;
  /** Receives the tunnel after 200 when there is no connectUpstream (e.g. a waypoint parsing HTTP in it). */
  onTunnel?: (stream: Duplex, info: TunnelInfo) => void;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
}

/** The serving certificate now, or once it has been issued. */
export type ServerCertProvider = () => CertSource | Promise<CertSource>;

export interface HboneServerEvents {
  /** A connection or stream was refused; `error.code` says why. Never carries key material. */
  rejected: [error: AmbitError, remote: string];
  tunnel: [info: TunnelInfo];
}

interface SessionInfo {
  peer: string;
  localAddress: string;
  remoteAddress: string;
  remotePort: number;
}

export class HboneServer extends EventEmitter<HboneServerEvents> {
  readonly #opts: HboneServerOptions;
  /** Accepts TCP; a connection is handed to #tls once there is a certificate to serve it with. */
  readonly #listener: NetServer;
  readonly #tls: TlsServer;
  #servingSrc: CertSource | undefined;
  /** Every accepted TCP connection, so stop() can cut even those still handshaking. */
  readonly #sockets = new Set<Socket>();
  readonly #h2: Http2Server;
  readonly #sessions = new Map<ServerHttp2Session, SessionInfo>();
  #draining = false;
  #incoming: SessionInfo | undefined;

  constructor(opts: HboneServerOptions) {
    super();
    if (!opts.connectUpstream === !opts.onTunnel) {
      throw new AmbitError("AMBIT_HBONE_CONFIG", "give exactly one of connectUpstream and onTunnel");
    }
    this.#opts = opts;
    this.#h2 = createH2Server({ settings: SERVER_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    this.#h2.on("session", (s) => this.#onSession(s));
    this.#h2.on("stream", (stream, headers) => this.#onStream(stream, headers));
    // Chain verification is checked in #checkClient (rejectUnauthorized off) so refusals can be reported.
    // pauseOnConnect: nothing is read until #tls wraps the socket, so the ClientHello waits for it in the kernel.
    this.#listener = createNetServer({ pauseOnConnect: true }, (raw) => void this.#onConnection(raw));
    this.#tls = createTlsServer({
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ALPN,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...secureContextOptions(undefined),
    });
    this.#tls.on("secureConnection", (socket) => this.#onSecureConnection(socket));
    this.#tls.on("tlsClientError", (err, socket) => {
      this.#reject(
        new AmbitError("AMBIT_HBONE_HANDSHAKE", `TLS handshake failed (is the client speaking mTLS?): ${err.message}`),
        `${socket.remoteAddress}:${socket.remotePort}`,
      );
    });
  }

  /** The bound port (after start). */
  get port(): number {
    return (this.#listener.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Number of live HTTP/2 sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  async start(): Promise<void> {
    if (this.#opts.listen) {
      await this.#opts.listen(this.#listener);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.#listener.once("error", reject);
      this.#listener.listen({ port: this.#opts.port ?? HBONE_PORT, host: this.#opts.host }, () => {
        this.#listener.off("error", reject);
        resolve();
      });
    });
  }

  /**
   * Stops accepting, sends GOAWAY on every session and waits for their streams to finish; after `timeoutMs`
   * whatever is left is cut with stop().
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    this.#draining = true;
    const listenerClosed = this.#closeListener();
    const sessions = [...this.#sessions.keys()];
    const done = Promise.all(sessions.map((s) => new Promise<void>((r) => (s.closed ? r() : s.once("close", r)))));
    for (const s of sessions) s.close();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([done, expired]);
    clearTimeout(timer);
    if (outcome === "timeout") await this.stop();
    await listenerClosed;
  }

  /** Stops at once: every session and in-flight handshake is cut, so clients see their streams fail. */
  async stop(): Promise<void> {
    this.#draining = true;
    const listenerClosed = this.#closeListener();
    for (const s of this.#sessions.keys()) s.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await listenerClosed;
  }

  #closeListener(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#listener.listening) return resolve();
      this.#listener.close(() => resolve());
    });
  }

  /**
   * A new TCP connection: waits for the certificate if it is still being issued, picks up a rotated one so it
   * applies to this and later sessions (established sessions keep theirs), then starts TLS.
   */
  async #onConnection(raw: Socket): Promise<void> {
    if (this.#draining) {
      raw.destroy();
      return;
    }
    this.#sockets.add(raw);
    raw.once("close", () => this.#sockets.delete(raw));
    // Until TLS owns the socket, a reset from the client only ends this connection.
    const onEarlyError = () => raw.destroy();
    raw.on("error", onEarlyError);
    raw.setNoDelay(true);
    raw.setKeepAlive(true, TCP_KEEPALIVE_MS);
    const remote = `${raw.remoteAddress ?? ""}:${raw.remotePort ?? ""}`;
    try {
      const pending = this.#opts.certs();
      const src =
        pending instanceof Promise ? await within(pending, this.#opts.certWaitMs ?? HANDSHAKE_TIMEOUT_MS) : pending;
      if (raw.destroyed || this.#draining) {
        raw.destroy();
        return;
      }
      if (src !== this.#servingSrc) {
        // Unusable key material throws here and refuses this connection; the previous context stays.
        this.#tls.setSecureContext(secureContextOptions(src));
        this.#servingSrc = src;
      }
    } catch (e) {
      raw.destroy();
      this.#reject(
        new AmbitError("AMBIT_HBONE_NO_CERTIFICATE", `no workload certificate to serve with: ${String(e)}`),
        remote,
      );
      return;
    }
    raw.off("error", onEarlyError);
    this.#tls.emit("connection", raw);
  }

  #onSecureConnection(socket: TLSSocket): void {
    const refusal = this.#checkClient(socket);
    if (refusal) {
      socket.destroy();
      this.#reject(refusal, `${socket.remoteAddress}:${socket.remotePort}`);
      return;
    }
    // The h2 server creates the session synchronously inside emit, so #onSession picks this up at once.
    this.#incoming = {
      peer: peerIdentity(socket)!,
      localAddress: socket.localAddress ?? "",
      remoteAddress: socket.remoteAddress ?? "",
      remotePort: socket.remotePort ?? 0,
    };
    this.#h2.emit("connection", socket);
    this.#incoming = undefined;
  }

  /** Chain (OpenSSL's verdict), ALPN, and the client's trust domain (ztunnel's TrustDomainVerifier). */
  #checkClient(s: TLSSocket): AmbitError | undefined {
    if (!s.authorized) return untrustedPeer(String(s.authorizationError ?? "no client certificate"), "client");
    if (s.alpnProtocol !== "h2") {
      return new AmbitError(
        "AMBIT_HBONE_ALPN",
        `the client did not negotiate ALPN h2 (got ${s.alpnProtocol || "none"})`,
      );
    }
    const peer = peerIdentity(s);
    if (!peer) return new AmbitError("AMBIT_HBONE_PEER_IDENTITY", "the client certificate has no SPIFFE identity");
    const td = tryParseSpiffeId(peer)!.trustDomain;
    if (td !== this.#opts.trustDomain) {
      return new AmbitError(
        "AMBIT_HBONE_TRUST_DOMAIN",
        `client identity ${peer} is outside the trust domain "${this.#opts.trustDomain}"`,
      );
    }
    return undefined;
  }

  #onSession(session: ServerHttp2Session): void {
    const info = this.#incoming;
    if (!info || this.#draining) {
      session.destroy();
      return;
    }
    this.#sessions.set(session, info);
    session.once("connect", () => session.setLocalWindowSize(CONNECTION_WINDOW));
    const stopKeepalive = startKeepalive(
      session,
      this.#opts.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS,
      this.#opts.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
    );
    session.on("error", () => {
      // The session closes right after; its streams report their own errors.
    });
    session.once("close", () => {
      stopKeepalive();
      this.#sessions.delete(session);
    });
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const conn = this.#sessions.get(stream.session as ServerHttp2Session);
    stream.on("error", () => {
      // Abnormal stream ends are reported to the other leg by splice; nothing to add here.
    });
    if (!conn) {
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const remote = `${conn.remoteAddress}:${conn.remotePort}`;
    if (headers[":method"] !== "CONNECT") {
      this.#refuse(stream, { status: 400, reason: `method ${headers[":method"]} is not CONNECT` }, remote);
      return;
    }
    const target = parseAuthority(headers[":authority"]);
    if (!target) {
      this.#refuse(stream, { status: 400, reason: `bad authority "${headers[":authority"]}"` }, remote);
      return;
    }
    const info: TunnelInfo = { ...conn, target, headers };
    this.#admit(stream, info, remote).catch((e: unknown) => {
      this.#refuse(stream, { status: 503, reason: e instanceof Error ? e.message : String(e) }, remote);
    });
  }

  async #admit(stream: ServerHttp2Stream, info: TunnelInfo, remote: string): Promise<void> {
    if (this.#opts.authorize) {
      const verdict = await this.#opts.authorize(info.peer, info.target, info.headers);
      if (verdict !== true) {
        const rejection =
          typeof verdict === "object"
            ? verdict
            : { status: 401 as const, reason: typeof verdict === "string" ? verdict : `${info.peer} is not allowed` };
        this.#refuse(stream, rejection, remote);
        return;
      }
    }
    let upstream: Duplex | undefined;
    let responseHeaders: Record<string, string> = {};
    if (this.#opts.connectUpstream) {
      let result: Duplex | AcceptedTunnel | TunnelRejection;
      try {
        result = await this.#opts.connectUpstream(info);
      } catch (e) {
        result = { status: 503, reason: `upstream connect failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      if ("pipe" in result) upstream = result;
      else if ("upstream" in result) {
        upstream = result.upstream;
        responseHeaders = result.responseHeaders;
      } else {
        this.#refuse(stream, result, remote);
        return;
      }
    }
    if (stream.destroyed || stream.closed) {
      upstream?.destroy();
      return;
    }
    surfaceResets(stream, `tunnel from ${info.peer} to ${info.headers[":authority"]}`);
    stream.respond({ ...responseHeaders, ":status": 200 });
    this.emit("tunnel", info);
    if (upstream) splice(stream, upstream).catch(() => {});
    else this.#opts.onTunnel?.(stream, info);
  }

  #refuse(stream: ServerHttp2Stream, r: TunnelRejection, remote: string): void {
    const code =
      r.status === 400
        ? "AMBIT_HBONE_BAD_REQUEST"
        : r.status === 401
          ? "AMBIT_HBONE_DENIED"
          : "AMBIT_HBONE_UNAVAILABLE";
    this.#reject(new AmbitError(code, r.reason), remote);
    if (stream.destroyed || stream.closed) return;
    // END_STREAM, not RST_STREAM: resets count toward Node's rapid-reset guard (feasibility.md §2).
    if (!stream.headersSent) stream.respond({ ":status": r.status }, { endStream: true });
    stream.resume();
  }

  #reject(error: AmbitError, remote: string): void {
    this.emit("rejected", error, remote);
  }
}

/** `p`, or a rejection once `ms` have passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
