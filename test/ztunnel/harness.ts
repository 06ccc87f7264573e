// A two-node mesh on loopback for ztunnel tests: real CA, real certificates, real HBONE between two Ztunnels.
// Pods get 127.77.x.y addresses; the original destination of captured connections comes from one local listener
// per intended destination (feasibility.md §3.3 approach B), which feeds the pod's outbound or plaintext server.

import { type AddressInfo, connect, createServer, Server, type Socket } from "node:net";
import { ProxyState } from "../../src/dataplane/state/proxy-state.js";
import { type ServiceView, type WorkloadView, workloadView } from "../../src/dataplane/state/types.js";
import type { PodDialer } from "../../src/dataplane/ztunnel/pod-proxy.js";
import type { Destination } from "../../src/dataplane/ztunnel/route.js";
import { Ztunnel, type ZtunnelOptions } from "../../src/dataplane/ztunnel/ztunnel.js";
import { MeshCa } from "../../src/identity/ca.js";
import { type CertificateClient, CertificateManager } from "../../src/identity/cert-manager.js";

export const TD = "cluster.local";
export const id = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function listen(s: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => {
      s.off("error", reject);
      resolve((s.address() as AddressInfo).port);
    });
  });
}

export function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!s.listening) return resolve();
    s.close(() => resolve());
  });
}

/** Per-destination listeners feeding one (unbound) server: the listener a connection arrived on is its destination. */
export class Capture {
  readonly server = new Server({ allowHalfOpen: true });
  readonly #dst = new WeakMap<Socket, Destination>();
  readonly #ports = new Map<string, number>();
  readonly #listeners: Server[] = [];

  readonly originalDestination = (s: Socket) => this.#dst.get(s);

  constructor() {
    // The proxy closing its listener must refuse new connections, as a real listener in the pod would.
    this.server.on("close", () => void this.close());
  }

  /** The local port whose connections are "going to" dst. */
  async portFor(dst: Destination): Promise<number> {
    const key = `${dst.address}:${dst.port}`;
    const known = this.#ports.get(key);
    if (known !== undefined) return known;
    const l = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
      this.#dst.set(s, dst);
      this.server.emit("connection", s);
    });
    this.#listeners.push(l);
    const port = await listen(l, "127.0.0.1");
    this.#ports.set(key, port);
    return port;
  }

  async close(): Promise<void> {
    await Promise.all(this.#listeners.map(closeServer));
  }
}

export interface TestPod {
  uid: string;
  ip: string;
  outbound: Capture;
  plaintext: Capture;
}

export interface TestNode {
  name: string;
  state: ProxyState;
  certs: CertificateManager;
  ztunnel: Ztunnel;
  logs: string[];
  pods: TestPod[];
}

export class Mesh {
  readonly #ca: MeshCa;
  readonly hbonePort: number;
  readonly nodes: TestNode[] = [];
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();

  private constructor(ca: MeshCa, hbonePort: number) {
    this.#ca = ca;
    this.hbonePort = hbonePort;
  }

  static async create(): Promise<Mesh> {
    const ca = await MeshCa.generate({ trustDomain: TD, authorizer: () => true });
    return new Mesh(ca, await freePort());
  }

  get ca(): MeshCa {
    return this.#ca;
  }

  /** A node whose CA answers after `signDelayMs` (default at once). */
  async node(
    name: string,
    state = new ProxyState(),
    options: Partial<ZtunnelOptions> = {},
    signDelayMs = 0,
  ): Promise<TestNode> {
    const client: CertificateClient = {
      createCertificate: async (csr, validity, identity) => {
        if (signDelayMs) await new Promise((r) => setTimeout(r, signDelayMs));
        return this.#ca.sign(csr, { node: name, identity, ttlMs: validity * 1000 });
      },
    };
    const certs = new CertificateManager({ client });
    const logs: string[] = [];
    const ztunnel = new Ztunnel({
      node: name,
      state,
      certificates: certs,
      hbonePort: this.hbonePort,
      ports: { admin: 0, metrics: 0, readiness: 0 },
      host: "127.0.0.1",
      accessLog: (l) => logs.push(l),
      drainTimeoutMs: 1_000,
      ...options,
    });
    await ztunnel.start();
    const n: TestNode = { name, state, certs, ztunnel, logs, pods: [] };
    this.nodes.push(n);
    return n;
  }

  /** Sends the same update to every node's state (what a control plane does). */
  update(delta: Parameters<ProxyState["update"]>[0]): void {
    for (const n of this.nodes) n.state.update(delta);
  }

  /** Enrolls a pod on a node: its workload goes to every node, its listeners to its node's ztunnel. */
  async pod(
    node: TestNode,
    w: Partial<WorkloadView> & { uid: string; ip: string },
    dial?: PodDialer,
  ): Promise<TestPod> {
    const { ip, ...rest } = w;
    const view = workloadView({ name: w.uid, namespace: "default", node: node.name, addresses: [ip], ...rest });
    this.update({ workloads: { upsert: [view] } });
    return this.enroll(node, w.uid, ip, dial);
  }

  /** Hands a pod's listeners to its node's ztunnel; the workload itself comes from wherever the state is fed. */
  async enroll(node: TestNode, uid: string, ip: string, dial?: PodDialer): Promise<TestPod> {
    const pod: TestPod = { uid, ip, outbound: new Capture(), plaintext: new Capture() };
    await node.ztunnel.addWorkload(
      uid,
      {
        outbound: pod.outbound.server,
        inboundPlaintext: pod.plaintext.server,
        hbone: { host: ip, port: this.hbonePort },
        ...(dial ? { dial } : {}),
      },
      (s) => pod.outbound.originalDestination(s) ?? pod.plaintext.originalDestination(s),
    );
    node.pods.push(pod);
    return pod;
  }

  service(s: ServiceView): void {
    this.update({ services: { upsert: [s] } });
  }

  /** An app that answers `<name>:<bytes received>` when the client half-closes; echoes nothing before. */
  async app(ip: string, port: number, name: string): Promise<Server> {
    const server = createServer({ allowHalfOpen: true }, (s) => {
      this.#sockets.add(s);
      s.once("close", () => this.#sockets.delete(s));
      let n = 0;
      s.on("data", (d: Buffer) => {
        n += d.length;
      });
      s.on("end", () => s.end(`${name}:${n}`));
      s.on("error", () => {});
    });
    this.#servers.push(server);
    await listen(server, ip, port);
    return server;
  }

  /** An app that answers `<name>:<peer address>` when the client half-closes: who it thinks is calling. */
  async peerApp(ip: string, port: number, name: string): Promise<Server> {
    const server = createServer({ allowHalfOpen: true }, (s) => {
      this.#sockets.add(s);
      s.once("close", () => this.#sockets.delete(s));
      s.resume();
      s.on("end", () => s.end(`${name}:${s.remoteAddress}`));
      s.on("error", () => {});
    });
    this.#servers.push(server);
    await listen(server, ip, port);
    return server;
  }

  /** An app that echoes every byte (for long-lived connections). */
  async echo(ip: string, port: number): Promise<Server> {
    const server = createServer({ allowHalfOpen: true }, (s) => {
      this.#sockets.add(s);
      s.once("close", () => this.#sockets.delete(s));
      s.on("error", () => {});
      s.pipe(s);
    });
    this.#servers.push(server);
    await listen(server, ip, port);
    return server;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.ztunnel.stop();
      n.certs.stop();
      for (const p of n.pods) await Promise.all([p.outbound.close(), p.plaintext.close()]);
    }
    for (const s of this.#sockets) s.destroy();
    await Promise.all(this.#servers.map(closeServer));
  }
}

export interface Exchange {
  /** What came back before the connection ended. */
  reply: string;
  /** The error that ended the connection, if any (e.g. ECONNRESET). */
  error: NodeJS.ErrnoException | undefined;
}

/** A loopback stand-in for "connect from inside the pod": any 127/8 address can be bound without privileges. */
export function dialFrom(localAddress: string | undefined, target: { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      ...(localAddress ? { localAddress } : {}),
    });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Connects via a capture port, sends `payload`, half-closes and collects the reply. */
export async function exchange(capture: Capture, dst: Destination, payload: string): Promise<Exchange> {
  const port = await capture.portFor(dst);
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", (e) => {
      error = e;
    });
    s.once("close", () => resolve({ reply: Buffer.concat(chunks).toString(), error }));
    s.once("connect", () => s.end(payload));
  });
}

/** Opens a long-lived connection via a capture port. */
export async function open(capture: Capture, dst: Destination): Promise<Socket> {
  const port = await capture.portFor(dst);
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small Prometheus text-format parser: enough for counters with quoted label values. */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === "n" ? "\n" : c));
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export async function scrape(node: TestNode): Promise<Sample[]> {
  const { body } = await get(node.ztunnel.ports.metrics, "/metrics");
  return parseProm(body);
}

/** Sum of a metric over samples whose labels include `match`. */
export function total(samples: Sample[], name: string, match: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Polls until `check` returns true (connection close bookkeeping is asynchronous). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
