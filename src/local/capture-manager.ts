// In-pod capture for running pods (data-plane.md §2.2–§2.5), the part istio-cni and ztunnel's ZDS do: take the pod
// out of kube-proxy's rules, open ztunnel's 15001/15006/15008 inside its netns (mark 1337), install the in-pod
// rules and hand the sockets to its node's ztunnel. Release undoes it in the opposite order while the app runs on.
import { connect, type Server, type Socket } from "node:net";
import { INPOD_MARK, ZtunnelPorts } from "../dataplane/capture/constants.js";
import { applyInpodRules, removeInpodRules } from "../dataplane/capture/iptables.js";
import {
  connectFromNetns,
  listenInNetns,
  listenServerInNetns,
  originalDestination,
} from "../dataplane/capture/listeners.js";
import { CONNECT_TIMEOUT_MS } from "../dataplane/hbone/settings.js";
import { sourcePreservingConnector } from "../dataplane/ztunnel/app-connect.js";
import type { AppConnector } from "../dataplane/ztunnel/context.js";
import type { PodDialer } from "../dataplane/ztunnel/pod-proxy.js";
import type { LocalCluster, RunningPod } from "../runtime/index.js";
import type { NodeAgent } from "./node-agent.js";

export function workloadUid(namespace: string, name: string): string {
  return `Kubernetes//Pod/${namespace}/${name}`;
}

export class CaptureManager {
  readonly #cluster: LocalCluster;
  readonly #agents: ReadonlyMap<string, NodeAgent>;
  /** Captured pods by key `ns/name`, with the node that proxies them. */
  readonly #captured = new Map<string, string>();
  /** Pod IP → netns, for the inbound leg of every ztunnel. */
  readonly #netnsByIp = new Map<string, string>();

  readonly #warn: (message: string) => void;

  /** `warn` hears, once, why source IPs cannot be preserved toward apps here (§2.5 is best effort). */
  constructor(
    cluster: LocalCluster,
    agents: ReadonlyMap<string, NodeAgent>,
    warn: (message: string) => void = () => {},
  ) {
    this.#cluster = cluster;
    this.#agents = agents;
    this.#warn = warn;
  }

  isCaptured(namespace: string, name: string): boolean {
    return this.#captured.has(`${namespace}/${name}`);
  }

  async capture(pod: RunningPod): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    const agent = this.#agents.get(pod.node);
    if (this.#captured.has(key) || !agent) return;
    // kube-proxy's rules must go first: ztunnel has to see the original VIP (docs/runtime.md).
    await this.#cluster.setCaptured(pod.namespace, pod.name, true);
    const opened: Server[] = [];
    try {
      const outbound = await listenInNetns(pod.netns, { port: ZtunnelPorts.outbound });
      opened.push(outbound);
      const inboundPlaintext = await listenInNetns(pod.netns, { port: ZtunnelPorts.inboundPlaintext });
      opened.push(inboundPlaintext);
      const hboneListen = (server: Server) =>
        listenServerInNetns(server, pod.netns, { port: ZtunnelPorts.inboundHbone, host: pod.ip });
      this.#netnsByIp.set(pod.ip, pod.netns);
      await applyInpodRules(pod.netns);
      await agent.ztunnel.addWorkload(
        workloadUid(pod.namespace, pod.name),
        {
          outbound,
          inboundPlaintext,
          hbone: { host: pod.ip, port: ZtunnelPorts.inboundHbone, listen: hboneListen },
          dial: podDialer(pod.netns),
        },
        (socket) => originalDestination(socket),
      );
      this.#captured.set(key, pod.node);
    } catch (e) {
      for (const s of opened) s.close();
      await removeInpodRules(pod.netns).catch(() => {});
      await this.#cluster.setCaptured(pod.namespace, pod.name, false);
      throw e;
    }
  }

  async release(pod: Pick<RunningPod, "namespace" | "name" | "netns" | "ip">): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    const node = this.#captured.get(key);
    if (node === undefined) return;
    this.#captured.delete(key);
    await removeInpodRules(pod.netns).catch(() => {});
    await this.#agents.get(node)?.ztunnel.removeWorkload(workloadUid(pod.namespace, pod.name));
    this.#netnsByIp.delete(pod.ip);
    await this.#cluster.setCaptured(pod.namespace, pod.name, false);
  }

  /**
   * The inbound leg: from inside the destination pod, marked 1337, with the tunnel's peer (the client pod, or the
   * waypoint) as source when it is a pod IP (§2.5); traffic from the host (SNAT-ed) is delivered from the pod's own
   * side, and so is everything when the kernel refuses the transparent bind.
   */
  readonly connectApp: AppConnector = sourcePreservingConnector(
    async (dst, source) => {
      const netns = this.#netnsByIp.get(dst.address);
      if (netns === undefined) return plain(dst.address, dst.port);
      const socket = await connectFromNetns(netns, {
        host: dst.address,
        port: dst.port,
        mark: INPOD_MARK,
        timeoutMs: 5_000,
        ...(source === undefined ? {} : { localAddress: source }),
      });
      socket.allowHalfOpen = true;
      socket.setNoDelay(true);
      return socket;
    },
    {
      spoofable: (src) => this.#cluster.pods().some((p) => p.ip === src.address),
      warn: (m) => this.#warn(m),
    },
  );
}

/**
 * A pod's outbound connections (HBONE and plain TCP) leave from inside its netns with mark 1337, so peers see the
 * pod's IP and the in-pod rules do not capture them again (data-plane.md §2.2, §2.5).
 */
export function podDialer(netns: string): PodDialer {
  return ({ host, port }) => connectFromNetns(netns, { host, port, mark: INPOD_MARK, timeoutMs: CONNECT_TIMEOUT_MS });
}

function plain(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true, noDelay: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}
