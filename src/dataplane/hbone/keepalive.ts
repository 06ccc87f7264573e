// HTTP/2 PING keepalive: a PING every interval; no ACK within the timeout tears the connection down
// (data-plane.md §1.3, ztunnel: 10 s / 20 s).

import type { Http2Session } from "node:http2";
import { AmbitError } from "../../errors.js";

/** Starts pinging; returns the function that stops it. Timers are unref'd so they never hold the process. */
export function startKeepalive(session: Http2Session, intervalMs: number, timeoutMs: number): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const interval = setInterval(() => {
    if (deadline || session.destroyed || session.closed) return;
    deadline = setTimeout(() => {
      session.destroy(new AmbitError("AMBIT_HBONE_KEEPALIVE", `no PING ACK within ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const sent = session.ping((err) => {
      clearTimeout(deadline);
      deadline = undefined;
      if (err && !session.destroyed) session.destroy(err);
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  }, intervalMs).unref();
  return () => {
    clearInterval(interval);
    clearTimeout(deadline);
  };
}
