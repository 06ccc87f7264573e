// One node's mesh agent: a CertificateManager that asks the CA with the node's token, a ProxyState fed over xDS,
// and the node's Ztunnel (admin, metrics and readiness on distinct 127.0.0.1 ports, since nodes share a host).

import { feedFromXds } from "../dataplane/state/from-xds.js";
import { ProxyState } from "../dataplane/state/proxy-state.js";
import type { AppConnector } from "../dataplane/ztunnel/context.js";
import { Ztunnel } from "../dataplane/ztunnel/index.js";
import { GrpcCertificateClient } from "../identity/cert-client.js";
import { CertificateManager } from "../identity/cert-manager.js";
import { XdsClient } from "../xds/client.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../xds/types.js";
import { type FileSink, fileSink } from "./log-sink.js";

export interface NodeAgentOptions {
  node: string;
  xds: string;
  ca: string;
  rootPem: string;
  token: string;
  logDir: string;
  trustDomain: string;
  connectApp: AppConnector;
}

export class NodeAgent {
  readonly node: string;
  readonly state = new ProxyState();
  readonly certificates: CertificateManager;
  readonly ztunnel: Ztunnel;
  readonly #xds: XdsClient;
  readonly #log: FileSink;
  readonly #unfeed: () => void;

  constructor(o: NodeAgentOptions) {
    this.node = o.node;
    this.certificates = new CertificateManager({
      client: new GrpcCertificateClient({ address: o.ca, rootPem: o.rootPem, token: o.token }),
    });
    this.#log = fileSink(o.logDir, "istio-system", `ztunnel-${o.node}`, "istio-proxy");
    this.#xds = new XdsClient({
      address: o.xds,
      typeUrls: [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL],
      node: { id: `ztunnel~127.0.0.1~ztunnel-${o.node}.istio-system~istio-system.svc.cluster.local` },
      metadata: { authorization: `Bearer ${o.token}` },
      backoff: { initialMs: 50, maxMs: 1_000 },
    });
    this.#unfeed = feedFromXds(this.state, this.#xds);
    this.ztunnel = new Ztunnel({
      node: o.node,
      state: this.state,
      certificates: this.certificates,
      trustDomain: o.trustDomain,
      ports: { admin: 0, metrics: 0, readiness: 0 },
      host: "127.0.0.1",
      adminHost: "127.0.0.1",
      accessLog: (line) => this.#log.write(line),
      connectApp: o.connectApp,
    });
  }

  async start(): Promise<void> {
    await this.ztunnel.start();
    this.#xds.start();
  }

  /** Resolves once the first xDS answer arrived (the ztunnel turns ready). */
  synced(timeoutMs = 10_000): Promise<boolean> {
    if (this.state.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const poll = setInterval(() => {
        if (!this.state.synced) return;
        clearInterval(poll);
        clearTimeout(timer);
        resolve(true);
      }, 20);
      timer.unref?.();
    });
  }

  async stop(): Promise<void> {
    await this.ztunnel.drain(1_000);
    this.#unfeed();
    this.#xds.stop();
    this.certificates.stop();
    await this.#log.close();
  }
}
