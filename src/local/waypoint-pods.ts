// A waypoint as a pod: the Waypoint proxy runs in this process with its HBONE (15008), metrics (15020) and
// readiness (15021) listeners inside the waypoint pod's netns on its IP, its certificate from the CA with its node's
// token, and its L7 config over xDS (data-plane.md §3.5).
import { listenServerInNetns } from "../dataplane/capture/listeners.js";
import { Waypoint } from "../dataplane/waypoint/index.js";
import { certSource, servingSource } from "../dataplane/ztunnel/peers.js";
import { AmbitError } from "../errors.js";
import { GrpcCertificateClient } from "../identity/cert-client.js";
import { CertificateManager } from "../identity/cert-manager.js";
import type { RunningPod } from "../runtime/index.js";
import { XdsClient } from "../xds/client.js";
import { WAYPOINT_CONFIG_TYPE_URL } from "../xds/types.js";
import { podDialer } from "./capture-manager.js";
import { type FileSink, fileSink } from "./log-sink.js";

export interface WaypointPodOptions {
  namespace: string;
  gateway: string;
  pod: RunningPod;
  xds: string;
  ca: string;
  rootPem: string;
  token: string;
  trustDomain: string;
  logDir: string;
}

export class WaypointPod {
  readonly namespace: string;
  readonly gateway: string;
  readonly pod: RunningPod;
  readonly waypoint: Waypoint;
  readonly #certs: CertificateManager;
  readonly #xds: XdsClient;
  readonly #log: FileSink;
  readonly #identity: string;

  constructor(o: WaypointPodOptions) {
    this.namespace = o.namespace;
    this.gateway = o.gateway;
    this.pod = o.pod;
    this.#identity = `spiffe://${o.trustDomain}/ns/${o.namespace}/sa/${o.gateway}`;
    this.#certs = new CertificateManager({
      client: new GrpcCertificateClient({ address: o.ca, rootPem: o.rootPem, token: o.token }),
    });
    this.#log = fileSink(o.logDir, o.namespace, o.pod.name, "istio-proxy");
    this.waypoint = new Waypoint({
      certs: () => {
        const cert = this.#certs.peek(this.#identity);
        if (!cert) throw new AmbitError("AMBIT_LOCAL_NO_CERTIFICATE", `no certificate for ${this.#identity} yet`);
        return certSource(cert);
      },
      // A tunnel that arrives while the first certificate is being issued waits for it.
      servingCerts: () => servingSource(this.#certs, this.#identity),
      trustDomain: o.trustDomain,
      accessLog: (line) => this.#log.write(line),
      listen: (server, port) => listenServerInNetns(server, o.pod.netns, { port, host: o.pod.ip }),
      dial: podDialer(o.pod.netns),
    });
    this.#xds = new XdsClient({
      address: o.xds,
      typeUrls: [WAYPOINT_CONFIG_TYPE_URL],
      node: { id: `waypoint~${o.pod.ip}~${o.pod.name}.${o.namespace}~${o.namespace}.svc.cluster.local` },
      metadata: { authorization: `Bearer ${o.token}` },
      validate: this.waypoint.xdsValidator(),
      backoff: { initialMs: 50, maxMs: 1_000 },
    });
    this.waypoint.useXds(this.#xds, `${o.namespace}/${o.gateway}`);
  }

  get key(): string {
    return `${this.namespace}/${this.gateway}`;
  }

  async start(): Promise<void> {
    await this.#certs.get(this.#identity);
    await this.waypoint.start();
    this.#xds.start();
  }

  async stop(): Promise<void> {
    await this.#xds.stop();
    await this.waypoint.drain(1_000);
    this.#certs.stop();
    await this.#log.close();
  }
}
