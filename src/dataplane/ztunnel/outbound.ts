// Outbound (15001): a connection the app made, captured in its pod. Find where it was going, route it (§3.1), open
// the upstream leg (HBONE, plain TCP or passthrough) and copy bytes both ways. Outbound never evaluates policy.

import { connect as netConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { isAmbitError } from "../../errors.js";
import { forwardedHeader } from "../hbone/headers.js";
import type { HbonePool } from "../hbone/pool.js";
import { CONNECT_TIMEOUT_MS } from "../hbone/settings.js";
import { splice } from "../hbone/splice.js";
import { workloadIdentity } from "../state/types.js";
import { formatAccessLog } from "../telemetry/access-log.js";
import type { OriginalDestination, ProxyContext } from "./context.js";
import { baggageFor, peerInfo, serviceInfo } from "./peers.js";
import { ConnectionRecord } from "./record.js";
import { routeOutbound } from "./route.js";

export interface OutboundPod {
  uid: string;
  pool: HbonePool;
  dialTcp(host: string, port: number): Promise<Socket>;
  originalDestination: OriginalDestination;
}

/** Response flags for an upstream that could not be opened (data-plane.md §6 "response_flags"). */
function failureFlag(e: unknown): string {
  if (isAmbitError(e, "AMBIT_HBONE_CONNECT_TIMEOUT")) return "NETWORK_POLICY";
  if (isAmbitError(e, "AMBIT_HBONE_PEER_IDENTITY")) return "IDENTITY_ERROR";
  if (isAmbitError(e, "AMBIT_HBONE_PEER_UNTRUSTED")) return "TLS_FAILURE";
  if (isAmbitError(e, "AMBIT_HBONE_ALPN")) return "H2_HANDSHAKE_FAILURE";
  return "CONNECT";
}

export function dialTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port, allowHalfOpen: true, noDelay: true });
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error(`connect to ${host}:${port} timed out`)));
    s.once("connect", () => {
      s.setTimeout(0);
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

export async function handleOutbound(ctx: ProxyContext, pod: OutboundPod, socket: Socket): Promise<void> {
  socket.allowHalfOpen = true;
  socket.setNoDelay(true);
  socket.on("error", () => {
    // Reported through splice and the access log.
  });
  const srcAddr = `${socket.remoteAddress}:${socket.remotePort}`;
  const dst = pod.originalDestination(socket);
  const source = dst ? await ctx.localWorkload(pod.uid) : undefined;
  const route = dst && source ? routeOutbound(ctx.state, source, dst, ctx.pick, { hbonePort: ctx.hbonePort }) : null;
  if (!dst || !source || !route || route.kind === "refuse") {
    const error = !dst
      ? "unknown original destination"
      : !source
        ? `unknown source workload ${pod.uid}`
        : route?.kind === "refuse"
          ? route.reason
          : "no route";
    ctx.log(
      formatAccessLog({
        level: "warn",
        message: "connection failed",
        src: { addr: srcAddr },
        dst: { addr: dst ? `${dst.address}:${dst.port}` : "unknown" },
        direction: "outbound",
        bytesSent: 0,
        bytesRecv: 0,
        durationMs: 0,
        error,
      }),
    );
    socket.resetAndDestroy();
    return;
  }
  const hbone = route.kind === "hbone";
  const record = new ConnectionRecord(ctx.metrics, ctx.log, {
    reporter: "source",
    source: peerInfo(source),
    destination: peerInfo(route.kind === "passthrough" ? undefined : route.destination),
    service: serviceInfo(route.kind === "passthrough" ? undefined : route.service),
    security: hbone ? "mutual_tls" : "unknown",
    srcAddr,
    dstAddr: hbone ? route.address : `${route.host}:${route.port}`,
    ...(hbone ? { hboneAddr: route.authority } : {}),
  });
  let upstream: Duplex;
  try {
    if (hbone) {
      await ctx.certificates.get(workloadIdentity(source));
      upstream = await pod.pool.connect({
        address: route.address,
        target: route.authority,
        expectedIdentities: route.expectedIdentities,
        headers: {
          baggage: baggageFor(source),
          forwarded: forwardedHeader(
            { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
            route.service?.hostname,
          ),
        },
      });
    } else {
      upstream = await pod.dialTcp(route.host, route.port);
    }
  } catch (e) {
    record.fail(failureFlag(e), e instanceof Error ? e.message : String(e));
    record.finish({ received: 0, sent: 0 });
    socket.resetAndDestroy();
    return;
  }
  if (socket.destroyed) {
    // The app gave up while we were dialing: splice would wait for a 'close' that already happened.
    upstream.destroy();
    record.fail("-", "downstream closed before the upstream was ready");
    record.finish({ received: socket.bytesRead, sent: 0 });
    return;
  }
  const tracked = ctx.tracker.add({
    workloadUid: pod.uid,
    direction: "outbound",
    local: srcAddr,
    remote: hbone ? route.address : `${route.host}:${route.port}`,
    remoteTarget: hbone ? route.authority : `${route.host}:${route.port}`,
    protocol: hbone ? "HBONE" : "TCP",
    openedAt: Date.now(),
    close(reason) {
      record.fail("-", reason);
      socket.resetAndDestroy();
      upstream.destroy();
    },
  });
  // splice() also cuts the other leg if the app already went away while we were dialing.
  // An upstream that fails (a reset tunnel, a dead peer) is a reset for the app too, as in ztunnel.
  upstream.once("error", (e) => {
    record.fail("-", e.message);
    socket.resetAndDestroy();
  });
  const done = splice(socket, upstream);
  // Captured sockets may arrive paused (pauseOnConnect); a 'data' listener alone does not restart them.
  socket.resume();
  await done;
  ctx.tracker.remove(tracked);
  if (!socket.readableEnded && !record.failed) record.fail("-", "connection closed before completion");
  record.finish({ received: socket.bytesRead, sent: socket.bytesWritten });
}
