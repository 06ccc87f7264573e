// One pod's proxy inside the node's ztunnel (in-pod mode, data-plane.md §2.2): the runtime hands over listeners
// created in the pod's network namespace; this attaches outbound (15001), inbound plaintext (15006) and inbound
// HBONE (15008) to them, with an HBONE pool that dials as the pod's identity.

import type { Server, Socket } from "node:net";
import { AmbitError } from "../../errors.js";
import { HbonePool } from "../hbone/pool.js";
import { HboneServer } from "../hbone/server.js";
import type { CertSource } from "../hbone/tls.js";
import { workloadIdentity } from "../state/types.js";
import { formatAccessLog } from "../telemetry/access-log.js";
import type { OriginalDestination, ProxyContext } from "./context.js";
import { inboundConnector } from "./inbound.js";
import { handleInboundPlaintext } from "./inbound-plaintext.js";
import { dialTcp, handleOutbound } from "./outbound.js";
import { certSource, servingSource } from "./peers.js";

export interface PodSockets {
  /** Listening, inside the pod's netns: captured outbound connections (15001). */
  outbound: Server;
  /** Listening, inside the pod's netns: plaintext inbound (15006). */
  inboundPlaintext: Server;
  /**
   * Where the pod's HBONE listener binds (the pod IP, 15008). Without `listen` the HBONE server binds it in the
   * ztunnel's own netns; `listen` binds it elsewhere (e.g. `listenServerInNetns` into the pod's netns).
   */
  hbone: { host: string; port: number; listen?: (server: Server) => Promise<unknown> };
  /**
   * Opens the pod's outbound connections (HBONE and plain TCP) from inside its netns, so peers see the pod's IP as
   * in Istio's in-pod mode (data-plane.md §2.2, §2.5). Without it they are dialed from the ztunnel's own netns.
   */
  dial?: PodDialer;
}

/** Connects to `target` as the pod; resolves with the connected socket. */
export type PodDialer = (target: { host: string; port: number }) => Promise<Socket>;

export class PodProxy {
  readonly uid: string;
  readonly #ctx: ProxyContext;
  readonly #sockets: PodSockets;
  readonly #originalDestination: OriginalDestination;
  readonly pool: HbonePool;
  /** Plain TCP upstreams (workloads outside the mesh, passthrough), from the pod when it has a dialer. */
  readonly dialTcp: (host: string, port: number) => Promise<Socket>;
  readonly #hbone: HboneServer;
  readonly #onOutbound = (s: Socket) => void handleOutbound(this.#ctx, this, s);
  readonly #onPlaintext = (s: Socket) => void handleInboundPlaintext(this.#ctx, this.uid, this.#originalDestination, s);

  constructor(ctx: ProxyContext, uid: string, sockets: PodSockets, originalDestination: OriginalDestination) {
    this.#ctx = ctx;
    this.uid = uid;
    this.#sockets = sockets;
    this.#originalDestination = originalDestination;
    const certs = () => this.#certs();
    const dial = sockets.dial;
    this.pool = new HbonePool({ certs, ...(dial ? { dial } : {}) });
    this.dialTcp = dial
      ? async (host, port) => {
          const s = await dial({ host, port });
          s.allowHalfOpen = true;
          s.setNoDelay(true);
          return s;
        }
      : dialTcp;
    this.#hbone = new HboneServer({
      host: sockets.hbone.host,
      port: sockets.hbone.port,
      ...(sockets.hbone.listen ? { listen: sockets.hbone.listen } : {}),
      certs: () => this.#servingCerts(),
      trustDomain: ctx.trustDomain,
      connectUpstream: inboundConnector(ctx, uid),
    });
  }

  get originalDestination(): OriginalDestination {
    return this.#originalDestination;
  }

  get hbone(): HboneServer {
    return this.#hbone;
  }

  async start(): Promise<void> {
    // Refusals before a tunnel exists (TLS, trust domain, bad CONNECT) get ztunnel's "connection failed" line;
    // 401/503 are logged with full context by the inbound handler itself.
    this.#hbone.on("rejected", (error, remote) => {
      if (error.code === "AMBIT_HBONE_DENIED" || error.code === "AMBIT_HBONE_UNAVAILABLE") return;
      this.#ctx.log(
        formatAccessLog({
          level: "warn",
          message: "connection failed",
          src: { addr: remote || "unknown" },
          dst: { addr: `${this.#sockets.hbone.host}:${this.#sockets.hbone.port}` },
          direction: "inbound",
          bytesSent: 0,
          bytesRecv: 0,
          durationMs: 0,
          error: `${error.code}: ${error.message}`,
        }),
      );
    });
    await this.#hbone.start();
    this.#sockets.outbound.on("connection", this.#onOutbound);
    this.#sockets.inboundPlaintext.on("connection", this.#onPlaintext);
    const w = this.#ctx.state.workload(this.uid);
    if (w) this.#ctx.certificates.add(workloadIdentity(w));
  }

  /** Stops accepting; HBONE sessions get GOAWAY and finish their streams within `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopAccepting();
    await this.#hbone.drain(timeoutMs);
  }

  async stop(): Promise<void> {
    this.#stopAccepting();
    await this.#hbone.stop();
    await this.pool.close();
  }

  #stopAccepting(): void {
    this.#sockets.outbound.off("connection", this.#onOutbound);
    this.#sockets.inboundPlaintext.off("connection", this.#onPlaintext);
    this.#sockets.outbound.close();
    this.#sockets.inboundPlaintext.close();
  }

  /** The pod's current certificate (synchronous, for outbound TLS); a missing one is fetched for the next connection. */
  #certs(): CertSource {
    const id = this.#identity();
    const cert = this.#ctx.certificates.peek(id);
    if (!cert) {
      this.#ctx.certificates.add(id);
      throw new AmbitError("AMBIT_ZTUNNEL_NO_CERTIFICATE", `no certificate for ${id} yet`);
    }
    return certSource(cert);
  }

  /** The certificate inbound HBONE serves: the cached one, or the one being issued (ztunnel waits for it too). */
  #servingCerts(): CertSource | Promise<CertSource> {
    return servingSource(this.#ctx.certificates, this.#identity());
  }

  #identity(): string {
    const w = this.#ctx.state.workload(this.uid);
    if (!w) throw new AmbitError("AMBIT_ZTUNNEL_UNKNOWN_WORKLOAD", `workload ${this.uid} is not known yet`);
    return workloadIdentity(w);
  }
}
