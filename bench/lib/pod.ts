// The destination "pod" of the waypoint benchmarks: an HTTP app that answers every request with 1 KiB, behind an
// HboneServer that delivers each tunnel to it.

import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { HboneServer } from "../../src/dataplane/hbone/server.js";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";

export interface BenchPod {
  /** Where the pod accepts HBONE. */
  port: number;
  stop(): Promise<void>;
}

export async function startBenchPod(cert: CertSource, host: string): Promise<BenchPod> {
  const body = Buffer.alloc(1024, "x");
  const app = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
  const appPort = (app.address() as AddressInfo).port;
  const pod = new HboneServer({
    port: 0,
    host,
    certs: () => cert,
    trustDomain: "cluster.local",
    connectUpstream: () =>
      new Promise((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port: appPort, allowHalfOpen: true });
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      }),
  });
  await pod.start();
  return {
    port: pod.port,
    stop: async () => {
      await pod.stop();
      app.close();
    },
  };
}
