// HTTP/1.1 load through HBONE tunnels for the waypoint benchmarks: keep-alive agents whose sockets are tunnels, one
// timed GET, and the open- and closed-loop drivers that send them.

import { Agent, type IncomingMessage, request } from "node:http";
import type { Duplex } from "node:stream";
import { socketLike } from "../../src/dataplane/waypoint/socket-like.js";

/** A keep-alive agent of at most `connections` sockets, each a tunnel that `open` makes. */
export function agentVia(open: () => Promise<Duplex>, connections: number): Agent {
  const a = new Agent({ keepAlive: true, maxSockets: connections });
  (a as unknown as { createConnection: unknown }).createConnection = (
    _o: unknown,
    cb: (e: Error | null, s?: Duplex) => void,
  ) => {
    open().then((t) => cb(null, socketLike(t)), cb);
    return undefined;
  };
  return a;
}

/**
 * GET / with Host `host`: the latency in µs once the body has ended. Rejects on a status other than 200, or with
 * what `check` finds wrong in the response.
 */
export function timedGet(
  agent: Agent,
  host: string,
  check: (res: IncomingMessage) => string | undefined = () => undefined,
): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: "x", path: "/", headers: { host } }, (res) => {
      res.on("data", () => {});
      res.on("end", () => {
        const problem = res.statusCode !== 200 ? `status ${res.statusCode}` : check(res);
        if (problem !== undefined) reject(new Error(problem));
        else resolve(Number(process.hrtime.bigint() - start) / 1000);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Open loop: `send` at `rate` per second for `seconds`, whatever earlier requests are doing; their latencies. */
export async function openLoop(rate: number, seconds: number, send: () => Promise<number>): Promise<number[]> {
  const latenciesUs: number[] = [];
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rate);
    while (sent < due) {
      sent++;
      pending.push(send().then((us) => void latenciesUs.push(us)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return latenciesUs;
}

/** Closed loop: `workers` senders, each starting its next request when the previous one ends, for `seconds`. */
export async function closedLoop(workers: number, seconds: number, send: () => Promise<number>): Promise<number[]> {
  const latenciesUs: number[] = [];
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < end) latenciesUs.push(await send());
    }),
  );
  return latenciesUs;
}
