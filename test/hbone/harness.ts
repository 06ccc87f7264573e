// A running HBONE pair for tests: an HBONE server that dials 127.0.0.1 origins, a pool, and origins to dial.

import { createHash } from "node:crypto";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { HbonePool, type HbonePoolOptions } from "../../src/dataplane/hbone/pool.js";
import { HboneServer, type HboneServerOptions } from "../../src/dataplane/hbone/server.js";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { type TestCa, testCa, workloadCert } from "./fixtures.js";

export const CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client";
export const SERVER_ID = "spiffe://cluster.local/ns/default/sa/server";

export function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

/** Echoes bytes and half-closes when the client does. */
export async function echoOrigin(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  return { server, port: await listen(server) };
}

/** Hashes everything received and, on the client's FIN, answers with the sha256 hex and a byte count. */
export async function hashOrigin(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash("sha256");
    let n = 0;
    s.on("data", (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.on("end", () => s.end(`${h.digest("hex")} ${n}`));
  });
  return { server, port: await listen(server) };
}

export function dialLoopback(info: { target: { host: string; port: number } }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: info.target.host, port: info.target.port, allowHalfOpen: true });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

export interface Pair {
  ca: TestCa;
  clientCert: CertSource;
  serverCert: CertSource;
  server: HboneServer;
  pool: HbonePool;
  address: string;
  close(): Promise<void>;
}

export async function startPair(
  opts: { server?: Partial<HboneServerOptions>; pool?: Partial<HbonePoolOptions>; ca?: TestCa } = {},
): Promise<Pair> {
  const ca = opts.ca ?? (await testCa());
  const clientCert = await workloadCert(ca, CLIENT_ID);
  const serverCert = await workloadCert(ca, SERVER_ID);
  const server = new HboneServer({
    port: 0,
    host: "127.0.0.1",
    certs: () => serverCert,
    trustDomain: "cluster.local",
    connectUpstream: dialLoopback,
    ...opts.server,
  });
  await server.start();
  const pool = new HbonePool({ certs: () => clientCert, ...opts.pool });
  return {
    ca,
    clientCert,
    serverCert,
    server,
    pool,
    address: `127.0.0.1:${server.port}`,
    async close() {
      await pool.close();
      await server.stop();
    },
  };
}

export function readAll(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("error", reject);
  });
}

export function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}
