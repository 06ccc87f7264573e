// The waypoint's state: a WaypointL7Config compiled once into the lookups the proxy asks per tunnel and per
// request (which service a target is, its routes, policies, telemetry, balancer). The proxy never reads the raw
// configuration. Compiling validates: anything malformed throws AMBIT_WAYPOINT_CONFIG and the caller keeps the
// state it had.

import type { RequestAuthentication } from "../../api/resources.js";
import { AmbitError } from "../../errors.js";
import { type JwksFetcher, RequestAuthenticator, WaypointAuthz } from "../../policy/index.js";
import type { WaypointEndpoint, WaypointL7Config, WaypointService } from "../../xds/waypoint-config.js";
import type { Authority } from "../hbone/headers.js";
import { Balancer, type EndpointHealthTable, type LbPolicy, type OutlierOptions } from "./balancer.js";
import { RouteTable } from "./routes.js";
import { type TelemetryDefaults, type TelemetrySettings, telemetryFor } from "./telemetry.js";

/** How a port's traffic is parsed: declared by the port's appProtocol/name, or sniffed when undeclared. */
export type PortProtocol = "http" | "http2" | "grpc" | "tcp" | "auto";

export interface ServicePortState {
  port: number;
  targetPort: number;
  protocol: PortProtocol;
  routes: RouteTable;
}

export interface ServiceState {
  /** `<namespace>/<name>`, the key Service-targeted policies use. */
  key: string;
  service: WaypointService;
  ports: ReadonlyMap<number, ServicePortState>;
  authn: RequestAuthenticator;
  telemetry: TelemetrySettings;
  balancer: Balancer;
}

/** Where a tunnel or request goes: a bound service's port, or a workload addressed directly. */
export type Destination =
  | { kind: "service"; service: ServiceState; port: ServicePortState }
  | { kind: "workload"; workload: WaypointEndpoint; port: number; protocol: PortProtocol };

export interface StateOptions {
  health: EndpointHealthTable;
  lbPolicy: LbPolicy;
  outlier: OutlierOptions;
  telemetryDefaults: TelemetryDefaults;
  jwksFetcher?: JwksFetcher;
  now?: () => number;
}

function invalid(message: string, cause?: unknown): AmbitError {
  return new AmbitError("AMBIT_WAYPOINT_CONFIG", message, cause === undefined ? undefined : { cause });
}

/** Istio's protocol selection: appProtocol first, then the port name's prefix (`http-web`, `grpc`, `tcp-db`). */
export function portProtocol(p: { name?: string; appProtocol?: string }): PortProtocol {
  const declared = (p.appProtocol ?? p.name?.split("-")[0] ?? "").toLowerCase();
  if (declared === "http" || declared === "http1" || declared === "http-web") return "http";
  if (declared === "http2" || declared === "kubernetes.io/h2c") return "http2";
  if (declared === "grpc" || declared === "grpc-web") return "grpc";
  if (["tcp", "tls", "https", "mongo", "mysql", "redis"].includes(declared)) return "tcp";
  return "auto";
}

function targetsOf(ra: RequestAuthentication) {
  return ra.spec?.targetRefs ?? (ra.spec?.targetRef ? [ra.spec.targetRef] : []);
}

function checkShape(c: WaypointL7Config): void {
  if (!c || typeof c !== "object") throw invalid("config is not an object");
  if (!c.waypoint || typeof c.waypoint.name !== "string" || typeof c.waypoint.namespace !== "string")
    throw invalid("config.waypoint needs a name and a namespace");
  for (const key of [
    "services",
    "workloads",
    "authorizationPolicies",
    "requestAuthentications",
    "telemetries",
    "wasmPlugins",
    "httpRoutes",
  ] as const) {
    if (!Array.isArray(c[key])) throw invalid(`config.${key} must be a list`);
  }
  for (const s of c.services) {
    if (!s || typeof s.name !== "string" || typeof s.namespace !== "string" || !Array.isArray(s.vips))
      throw invalid("every service needs namespace, name and vips");
    if (!Array.isArray(s.ports) || s.ports.some((p) => !Number.isInteger(p.port) || !Number.isInteger(p.targetPort)))
      throw invalid(`service ${s.namespace}/${s.name}: ports need integer port and targetPort`);
    if (!Array.isArray(s.endpoints) || s.endpoints.some((e) => typeof e.address !== "string"))
      throw invalid(`service ${s.namespace}/${s.name}: endpoints need an address`);
  }
}

export class WaypointState {
  readonly config: WaypointL7Config;
  readonly authz: WaypointAuthz;
  readonly services: ReadonlyMap<string, ServiceState>;
  /** `vip:port` → destination. */
  readonly #byVip = new Map<string, { service: ServiceState; port: ServicePortState }>();
  /** Hostnames and short names (`name`, `name.ns`, `name.ns.svc`) → service. */
  readonly #byHost = new Map<string, ServiceState>();
  readonly #workloads = new Map<string, WaypointEndpoint>();
  /** Telemetry for traffic that matches no bound service (direct workload traffic). */
  readonly defaultTelemetry: TelemetrySettings;
  readonly defaultAuthn: RequestAuthenticator;
  /** Every endpoint address in config (for the health table). */
  readonly addresses: ReadonlySet<string>;

  private constructor(config: WaypointL7Config, opts: StateOptions) {
    checkShape(config);
    this.config = config;
    const td = config.trustDomain || "cluster.local";
    try {
      this.authz = WaypointAuthz.compile(config.authorizationPolicies, { trustDomain: td });
    } catch (e) {
      throw invalid(`authorization policies: ${(e as Error).message}`, e);
    }
    const wide = config.requestAuthentications.filter(
      (ra) => !targetsOf(ra).some((r) => r.kind === "Service" || r.kind === "ServiceEntry"),
    );
    const authn = (ras: RequestAuthentication[]) => {
      try {
        return RequestAuthenticator.compile(ras, { fetcher: opts.jwksFetcher, now: opts.now });
      } catch (e) {
        throw invalid(`request authentication: ${(e as Error).message}`, e);
      }
    };
    this.defaultAuthn = authn(wide);
    const scope = {
      waypointNamespace: config.waypoint.namespace,
      rootNamespace: config.rootNamespace || "istio-system",
    };
    this.defaultTelemetry = telemetryFor(config.telemetries, { ...scope, service: undefined }, opts.telemetryDefaults);
    const services = new Map<string, ServiceState>();
    const addresses = new Set<string>();
    for (const svc of config.services) {
      const key = `${svc.namespace}/${svc.name}`;
      const ports = new Map<number, ServicePortState>();
      for (const p of svc.ports) {
        ports.set(p.port, {
          port: p.port,
          targetPort: p.targetPort,
          protocol: portProtocol(p),
          routes: RouteTable.compile(config.httpRoutes, svc, p.port),
        });
      }
      const targeted = config.requestAuthentications.filter((ra) =>
        targetsOf(ra).some(
          (r) =>
            (r.kind === "Service" || r.kind === "ServiceEntry") &&
            r.name === svc.name &&
            (ra.metadata.namespace ?? "default") === svc.namespace,
        ),
      );
      for (const e of svc.endpoints) addresses.add(e.address);
      const state: ServiceState = {
        key,
        service: svc,
        ports,
        authn: targeted.length === 0 ? this.defaultAuthn : authn([...wide, ...targeted]),
        telemetry: telemetryFor(config.telemetries, { ...scope, service: svc }, opts.telemetryDefaults),
        balancer: new Balancer(svc.endpoints, opts.health, opts.lbPolicy, opts.outlier, opts.now),
      };
      services.set(key, state);
      for (const vip of svc.vips)
        for (const port of ports.values()) this.#byVip.set(`${vip}:${port.port}`, { service: state, port });
      const [name, ns] = [svc.name, svc.namespace];
      for (const h of [svc.hostname, name, `${name}.${ns}`, `${name}.${ns}.svc`])
        if (h) this.#byHost.set(h.toLowerCase(), state);
    }
    for (const w of config.workloads) {
      this.#workloads.set(w.address, w);
      addresses.add(w.address);
    }
    this.services = services;
    this.addresses = addresses;
  }

  static compile(config: WaypointL7Config, opts: StateOptions): WaypointState {
    return new WaypointState(config, opts);
  }

  /**
   * The destination of a tunnel: its `:authority` as a service VIP:port or a workload IP; for HTTP, the Host header
   * is tried next (hostname-addressed traffic).
   */
  resolve(target: Authority, host?: string): Destination | undefined {
    const vip = this.#byVip.get(`${target.host}:${target.port}`);
    if (vip) return { kind: "service", ...vip };
    const w = this.#workloads.get(target.host);
    if (w) return { kind: "workload", workload: w, port: target.port, protocol: "auto" };
    const byHost = this.#byHost.get(target.host.toLowerCase());
    if (byHost) {
      const port = byHost.ports.get(target.port);
      if (port) return { kind: "service", service: byHost, port };
    }
    if (host) {
      const colon = host.lastIndexOf(":");
      const name = (colon > 0 && !host.endsWith("]") ? host.slice(0, colon) : host).toLowerCase();
      const svc = this.#byHost.get(name);
      const port =
        svc?.ports.get(colon > 0 ? Number(host.slice(colon + 1)) : target.port) ?? svc?.ports.values().next().value;
      if (svc && port) return { kind: "service", service: svc, port };
    }
    return undefined;
  }

  service(key: string): ServiceState | undefined {
    return this.services.get(key);
  }

  /** The workload whose address is `ip` (for source_* labels), among bound services' endpoints and workloads. */
  workloadAt(ip: string): WaypointEndpoint | undefined {
    const w = this.#workloads.get(ip);
    if (w) return w;
    for (const s of this.services.values()) for (const e of s.service.endpoints) if (e.address === ip) return e;
    return undefined;
  }
}
