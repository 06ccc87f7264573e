// Shared fixtures for the capture tests: why a suite must skip, a two-pod topology, tiny HTTP helpers.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { Server, Socket } from "node:net";
import {
  attachToBridge,
  cleanupPrefix,
  createBridge,
  createNetns,
  listLinks,
  listNetns,
} from "../../src/dataplane/capture/netns.js";
import { checkCapturePrerequisites } from "../../src/dataplane/capture/probe.js";

/** Why the privileged capture tests cannot run here, or false when they can. */
export async function captureSkipReason(): Promise<string | false> {
  const missing = await checkCapturePrerequisites({ deep: false });
  return missing.length === 0 ? false : missing.map((m) => m.message).join("; ");
}

/** Every name a test process creates starts with this, so cleanup can find all of it. */
export function testPrefix(tag: string): string {
  return `amt${tag}${process.pid % 100000}`;
}

export interface Pod {
  ns: string;
  ip: string;
  ip6: string;
}

export interface TwoPods {
  prefix: string;
  bridge: string;
  a: Pod;
  b: Pod;
}

// The bridge gets no address: pods talk over L2 and the host's routing table is never touched.
export async function createTwoPods(prefix: string): Promise<TwoPods> {
  const bridge = `${prefix}br`;
  const a = { ns: `${prefix}-a`, ip: "10.251.0.1", ip6: "fd00:251::1" };
  const b = { ns: `${prefix}-b`, ip: "10.251.0.2", ip6: "fd00:251::2" };
  await createBridge(bridge);
  for (const [pod, side] of [
    [a, "a"],
    [b, "b"],
  ] as const) {
    await createNetns(pod.ns);
    await attachToBridge({
      netns: pod.ns,
      bridge,
      hostIf: `${prefix}v${side}`,
      addresses: [`${pod.ip}/24`, `${pod.ip6}/64`],
    });
  }
  return { prefix, bridge, a, b };
}

/** Removes everything with the prefix and proves it is gone. */
export async function destroyAll(prefix: string): Promise<void> {
  await cleanupPrefix(prefix);
  assert.deepEqual(await listNetns(prefix), []);
  assert.deepEqual(
    (await listLinks(prefix)).map((l) => l.name),
    [],
  );
}

/** Resolves with the next connection the server accepts. */
export async function nextConnection(server: Server): Promise<Socket> {
  const [socket] = (await once(server, "connection")) as [Socket];
  return socket;
}

/** Sends a minimal HTTP/1.0 GET on a connected socket and resolves with the response body. */
export async function httpGetOver(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.end("GET / HTTP/1.0\r\nHost: test\r\n\r\n");
  await once(socket, "close");
  const text = Buffer.concat(chunks).toString();
  const split = text.indexOf("\r\n\r\n");
  assert.ok(split > 0, `not an HTTP response: ${JSON.stringify(text)}`);
  return text.slice(split + 4);
}

export async function closeServers(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
          s.close(() => resolve());
        }),
    ),
  );
}
