// The waypoint: accepts HBONE on 15008, detects HTTP/1.1, h2c (gRPC) or TCP on each tunnel, runs HTTP through the
// filter chain and TCP through L4 policy, and sends traffic on to endpoints over HBONE (data-plane.md §3.5).
// Configuration comes in whole (`configure`, or WaypointConfig over xDS); a bad one is refused and the previous
// one stays in force. Until configured, or once draining, tunnels are refused so the source fails closed.

import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import { AmbitError } from "../../errors.js";
import type { JwksFetcher } from "../../policy/index.js";
import type { XdsClient } from "../../xds/client.js";
import { decodeWaypointConfig, validateResource } from "../../xds/resources.js";
import { WAYPOINT_CONFIG_TYPE_URL } from "../../xds/types.js";
import type { WaypointL7Config } from "../../xds/waypoint-config.js";
import { formatAuthority } from "../hbone/headers.js";
import { type HboneDialer, HbonePool } from "../hbone/pool.js";
import { HboneServer, type ServerCertProvider, type TunnelInfo, type TunnelVerdict } from "../hbone/server.js";
import type { CertProvider } from "../hbone/tls.js";
import { close, listen, metricsServer, readinessServer } from "./admin.js";
import { DEFAULT_OUTLIER, EndpointHealthTable, type LbPolicy, type OutlierOptions } from "./balancer.js";
import { buildChain, type ExtensionFilter, type Filter } from "./chain.js";
import { detect } from "./detect.js";
import { authnFilter } from "./filters/authn.js";
import { authzFilter } from "./filters/authz.js";
import { routerFilter } from "./filters/router.js";
import { statsFilter } from "./filters/stats.js";
import { HttpIngress } from "./ingress.js";
import { WaypointMetrics } from "./metrics.js";
import type { StateOptions } from "./state.js";
import { WaypointState } from "./state.js";
import { closeTunnel, proxyTcp } from "./tcp.js";
import type { TelemetryDefaults } from "./telemetry.js";
import { Upstreams } from "./upstream.js";

export interface WaypointOptions {
  /** The waypoint's own certificate for its upstream tunnels (a CertificateManager's `peek` in production). */
  certs: CertProvider;
  /** The certificate its HBONE listener serves; may wait for one still being issued. Default: `certs`. */
  servingCerts?: ServerCertProvider;
  trustDomain?: string;
  /** HBONE listener; default 15008 on all addresses. */
  port?: number;
  host?: string;
  /** Metrics (`/metrics`) port, default 15020; readiness (`/healthz/ready`) port, default 15021. */
  metricsPort?: number;
  readinessPort?: number;
  adminHost?: string;
  /**
   * Binds a listener (HBONE, metrics or readiness, with its configured port) instead of a plain listen, e.g. inside
   * the waypoint pod's network namespace. Resolves once listening.
   */
  listen?: (server: NetServer, port: number) => Promise<unknown>;
  /** Opens the transport of each upstream HBONE session (e.g. inside the waypoint pod's netns); default a plain connect. */
  dial?: HboneDialer;
  /** Port of the destinations' HBONE listeners; default 15008. */
  upstreamHbonePort?: number;
  lbPolicy?: LbPolicy;
  outlier?: Partial<OutlierOptions>;
  /** Silence after which an undeclared port's tunnel is treated as TCP; default 1 s. */
  detectTimeoutMs?: number;
  connectTimeoutMs?: number;
  retryBufferBytes?: number;
  telemetryDefaults?: Partial<TelemetryDefaults>;
  /** Access-log sink; default stdout. */
  accessLog?: (line: string) => void;
  jwksFetcher?: JwksFetcher;
  /**
   * Extension filters (Wasm plugins) per phase, made for each new config; the extension point for
   * src/dataplane/wasm. Called after a config compiles; a throw rejects the config.
   */
  extensions?: (config: WaypointL7Config) => ExtensionFilter[] | Promise<ExtensionFilter[]>;
  now?: () => number;
}

export interface WaypointEvents {
  configured: [state: WaypointState];
  /** A config (direct or from xDS) was refused; the previous one is still in force. */
  configRejected: [error: AmbitError];
  /** A tunnel was refused by the HBONE server or by the waypoint. */
  tunnelRejected: [error: AmbitError, remote: string];
}

export class Waypoint extends EventEmitter<WaypointEvents> {
  readonly metrics = new WaypointMetrics();
  readonly #opts: WaypointOptions;
  readonly #health = new EndpointHealthTable();
  readonly #pool: HbonePool;
  readonly #upstreams: Upstreams;
  readonly #server: HboneServer;
  readonly #ingress: HttpIngress;
  readonly #builtins: Record<"authn" | "authz" | "stats" | "router", Filter>;
  readonly #metricsServer: Server;
  readonly #readinessServer: Server;
  #state: WaypointState | undefined;
  #chain: Filter[];
  #started = false;
  #draining = false;
  #ports = { hbone: 0, metrics: 0, readiness: 0 };
  #tunnels = new Set<Duplex>();
  #xdsDetach: (() => void) | undefined;

  constructor(opts: WaypointOptions) {
    super();
    this.#opts = opts;
    this.#pool = new HbonePool({ certs: opts.certs, ...(opts.dial ? { dial: opts.dial } : {}) });
    this.#upstreams = new Upstreams({
      pool: this.#pool,
      hbonePort: opts.upstreamHbonePort ?? 15008,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    });
    const outlier = { ...DEFAULT_OUTLIER, ...opts.outlier };
    this.#builtins = {
      authn: authnFilter,
      authz: authzFilter,
      stats: statsFilter({
        metrics: this.metrics,
        accessLog: opts.accessLog ?? ((l) => process.stdout.write(`${l}\n`)),
      }),
      router: routerFilter({
        upstreams: this.#upstreams,
        health: this.#health,
        lbPolicy: opts.lbPolicy ?? "LEAST_REQUEST",
        outlier,
        retryBufferBytes: opts.retryBufferBytes ?? 1 << 20,
      }),
    };
    this.#chain = buildChain(this.#builtins, []);
    this.#ingress = new HttpIngress({ state: () => this.#state, chain: () => this.#chain });
    this.#server = new HboneServer({
      port: opts.port ?? 15008,
      host: opts.host,
      ...(opts.listen ? { listen: (server: NetServer) => opts.listen!(server, opts.port ?? 15008) } : {}),
      certs: opts.servingCerts ?? opts.certs,
      trustDomain: opts.trustDomain ?? "cluster.local",
      authorize: (_peer, target) => this.#authorize(target),
      onTunnel: (stream, info) => this.#onTunnel(stream, info),
    });
    this.#server.on("rejected", (e, remote) => this.emit("tunnelRejected", e, remote));
    const admin = { metrics: () => this.metrics.render(), ready: () => this.ready };
    this.#metricsServer = metricsServer(admin);
    this.#readinessServer = readinessServer(admin);
  }

  /** Serving: started, configured, not draining. */
  get ready(): boolean {
    return this.#started && !this.#draining && this.#state !== undefined;
  }

  get state(): WaypointState | undefined {
    return this.#state;
  }

  get ports(): { hbone: number; metrics: number; readiness: number } {
    return { ...this.#ports };
  }

  /** Compiles a config without applying it; throws AMBIT_WAYPOINT_CONFIG when it is broken. */
  compile(config: WaypointL7Config): WaypointState {
    const outlier = { ...DEFAULT_OUTLIER, ...this.#opts.outlier };
    const opts: StateOptions = {
      health: this.#health,
      lbPolicy: this.#opts.lbPolicy ?? "LEAST_REQUEST",
      outlier,
      telemetryDefaults: { samplingPercent: 1, accessLog: false, ...this.#opts.telemetryDefaults },
      jwksFetcher: this.#opts.jwksFetcher,
      now: this.#opts.now,
    };
    try {
      return WaypointState.compile(config, opts);
    } catch (e) {
      if (e instanceof AmbitError) throw e;
      throw new AmbitError("AMBIT_WAYPOINT_CONFIG", `invalid waypoint config: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Applies a whole config: compiled, extensions built, then swapped in for new requests (requests in flight
   * finish with the config they started with). A broken config throws and changes nothing.
   */
  async configure(config: WaypointL7Config | WaypointState): Promise<WaypointState> {
    try {
      const state = config instanceof WaypointState ? config : this.compile(config);
      const extensions = (await this.#opts.extensions?.(state.config)) ?? [];
      const tags = new Set<string>();
      for (const s of [state.defaultTelemetry, ...[...state.services.values()].map((x) => x.telemetry)])
        for (const m of Object.values(s.metrics))
          for (const [name, o] of m.tags) if (o.operation === "UPSERT") tags.add(name);
      this.metrics.ensureTags(tags);
      this.#chain = buildChain(this.#builtins, extensions);
      this.#state = state;
      this.#health.retain(state.addresses);
      this.#upstreams.retain(state.addresses);
      this.emit("configured", state);
      return state;
    } catch (e) {
      const err =
        e instanceof AmbitError
          ? e
          : new AmbitError("AMBIT_WAYPOINT_CONFIG", `config refused: ${(e as Error).message}`, { cause: e });
      this.emit("configRejected", err);
      throw err;
    }
  }

  /**
   * Takes config from an xDS client subscribed to WaypointConfig: resource `<namespace>/<name>`. Pass
   * `waypoint.xdsValidator()` as the client's `validate`, so a broken config is NACKed and never applied.
   */
  useXds(client: XdsClient, resourceName: string): () => void {
    const onUpdate = (ev: { typeUrl: string; upserted: readonly string[] }) => {
      if (ev.typeUrl !== WAYPOINT_CONFIG_TYPE_URL || !ev.upserted.includes(resourceName)) return;
      const r = client.resources(WAYPOINT_CONFIG_TYPE_URL).get(resourceName);
      if (!r) return;
      let config: WaypointL7Config;
      try {
        config = JSON.parse(decodeWaypointConfig(r.resource).configJson) as WaypointL7Config;
      } catch (e) {
        this.emit("configRejected", new AmbitError("AMBIT_WAYPOINT_CONFIG", `config_json: ${(e as Error).message}`));
        return;
      }
      this.configure(config).catch(() => {});
    };
    client.on("update", onUpdate);
    this.#xdsDetach?.();
    this.#xdsDetach = () => client.off("update", onUpdate);
    return this.#xdsDetach;
  }

  /** An XdsClient `validate` that also compiles WaypointConfig resources, so broken ones are NACKed. */
  xdsValidator(): (typeUrl: string, name: string, resource: Parameters<typeof decodeWaypointConfig>[0]) => void {
    return (typeUrl, name, resource) => {
      validateResource(typeUrl, name, resource);
      if (typeUrl !== WAYPOINT_CONFIG_TYPE_URL) return;
      const json = decodeWaypointConfig(resource).configJson;
      this.compile(JSON.parse(json) as WaypointL7Config);
    };
  }

  async start(): Promise<void> {
    await this.#server.start();
    this.#ports.hbone = this.#server.port;
    const bind = async (server: Server, port: number): Promise<number> => {
      if (!this.#opts.listen) return listen(server, port, this.#opts.adminHost);
      await this.#opts.listen(server, port);
      return (server.address() as AddressInfo).port;
    };
    this.#ports.metrics = await bind(this.#metricsServer, this.#opts.metricsPort ?? 15020);
    this.#ports.readiness = await bind(this.#readinessServer, this.#opts.readinessPort ?? 15021);
    this.#started = true;
  }

  /**
   * Stops taking tunnels (readiness turns 503 at once), lets requests in flight finish, closes idle
   * connections as they free up, and cuts whatever is left after `graceMs`.
   */
  async drain(graceMs = 30_000): Promise<void> {
    this.#draining = true;
    const deadline = Date.now() + graceMs;
    const hbone = this.#server.drain(graceMs);
    while (Date.now() < deadline && (this.#ingress.active > 0 || this.#tunnels.size > 0)) {
      this.#ingress.closeIdle();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.#ingress.closeIdle();
    await hbone;
    await this.stop();
  }

  async stop(): Promise<void> {
    this.#draining = true;
    this.#started = false;
    this.#xdsDetach?.();
    this.#ingress.closeAll();
    for (const t of this.#tunnels) t.destroy();
    await this.#server.stop();
    await this.#upstreams.close();
    await this.#pool.close();
    await Promise.all([close(this.#metricsServer), close(this.#readinessServer)]);
  }

  #authorize(target: { host: string; port: number }): TunnelVerdict {
    if (!this.ready) return { status: 503, reason: "waypoint is not ready" };
    if (!this.#state!.resolve(target)) {
      return { status: 400, reason: `nothing at ${formatAuthority(target)} is served by this waypoint` };
    }
    return true;
  }

  #onTunnel(stream: Duplex, info: TunnelInfo): void {
    this.#tunnels.add(stream);
    stream.once("close", () => this.#tunnels.delete(stream));
    stream.on("error", () => {});
    const state = this.#state;
    const dest = state?.resolve(info.target);
    if (!state || !dest) {
      closeTunnel(stream);
      return;
    }
    const declared = dest.kind === "service" ? dest.port.protocol : "auto";
    const route = (kind: "http1" | "h2c" | "tcp") => {
      if (kind === "tcp") {
        proxyTcp(stream, info, dest, state, {
          upstreams: this.#upstreams,
          metrics: this.metrics,
          health: this.#health,
          lbPolicy: this.#opts.lbPolicy ?? "LEAST_REQUEST",
          outlier: { ...DEFAULT_OUTLIER, ...this.#opts.outlier },
        }).catch(() => closeTunnel(stream));
      } else {
        this.#ingress.accept(stream, info, kind);
      }
    };
    if (declared === "tcp") {
      route("tcp");
      return;
    }
    // Declared HTTP ports still need h1 vs h2c told apart; silence there is still HTTP/1.1 (client speaks first).
    detect(stream, declared === "auto" ? (this.#opts.detectTimeoutMs ?? 1000) : 3_600_000).then((kind) =>
      route(declared !== "auto" && kind === "tcp" ? "http1" : kind),
    );
  }
}
