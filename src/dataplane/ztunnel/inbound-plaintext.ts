// Inbound plaintext (15006): traffic that reached the pod without HBONE, i.e. from outside the mesh
// (data-plane.md §3.3). Authorized with no identity, so STRICT PeerAuthentication (a DENY of "no principal")
// refuses it; otherwise it is delivered to the original destination with connection_security_policy=unknown.

import type { Socket } from "node:net";
import { splice } from "../hbone/splice.js";
import type { OriginalDestination, ProxyContext } from "./context.js";
import { l4Connection, plainIp, rejectionText } from "./inbound.js";
import { peerInfo } from "./peers.js";
import { ConnectionRecord } from "./record.js";
import { ZTUNNEL_PORTS } from "./route.js";

export async function handleInboundPlaintext(
  ctx: ProxyContext,
  uid: string,
  originalDestination: OriginalDestination,
  socket: Socket,
): Promise<void> {
  socket.allowHalfOpen = true;
  socket.setNoDelay(true);
  socket.on("error", () => {
    // Reported through splice and the access log.
  });
  const dst = originalDestination(socket);
  const local = dst ? await ctx.localWorkload(uid) : undefined;
  if (!dst || !local || ZTUNNEL_PORTS.has(dst.port) || !local.addresses.includes(dst.address)) {
    socket.resetAndDestroy();
    return;
  }
  const srcIp = plainIp(socket.remoteAddress);
  const srcPort = socket.remotePort ?? 0;
  const { principal: _none, ...source } = peerInfo(ctx.state.workloadByIp(srcIp, local.network));
  const record = new ConnectionRecord(ctx.metrics, ctx.log, {
    reporter: "destination",
    source,
    destination: peerInfo(local),
    service: undefined,
    security: "unknown",
    srcAddr: `${srcIp}:${srcPort}`,
    dstAddr: `${dst.address}:${dst.port}`,
  });
  const decide = () =>
    ctx.state.authz().evaluate(l4Connection(ctx.state.workload(uid) ?? local, null, srcIp, dst.address, dst.port));
  const d = decide();
  if (!d.allowed) {
    record.fail("DENY", `policy rejection: ${rejectionText(d)}`);
    record.finish({ received: 0, sent: 0 });
    socket.resetAndDestroy();
    return;
  }
  let app: Socket;
  try {
    app = await ctx.connectApp(dst, { address: srcIp, port: srcPort });
  } catch (e) {
    record.fail("CONNECT", e instanceof Error ? e.message : String(e));
    record.finish({ received: 0, sent: 0 });
    socket.resetAndDestroy();
    return;
  }
  if (socket.destroyed) {
    app.destroy();
    record.fail("-", "downstream closed before the app connection was ready");
    record.finish({ received: 0, sent: 0 });
    return;
  }
  const tracked = ctx.tracker.add({
    workloadUid: uid,
    direction: "inbound",
    local: `${dst.address}:${dst.port}`,
    remote: `${srcIp}:${srcPort}`,
    remoteTarget: `${dst.address}:${dst.port}`,
    protocol: "TCP",
    openedAt: Date.now(),
    stillAllowed: () => decide().allowed,
    close(reason) {
      record.fail("DENY", reason);
      socket.resetAndDestroy();
      app.destroy();
    },
  });
  const done = splice(socket, app);
  // Captured sockets may arrive paused (pauseOnConnect); a 'data' listener alone does not restart them.
  socket.resume();
  await done;
  ctx.tracker.remove(tracked);
  record.finish({ received: socket.bytesRead, sent: socket.bytesWritten });
}
