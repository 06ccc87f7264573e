// Node sockets that live inside a pod's netns, owned by a process in another netns (ztunnel's in-pod mode,
// data-plane.md §2.2): the addon creates the socket in the pod, Node adopts the fd and drives it with libuv.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { closeSync } from "node:fs";
import { createServer, isIP, type Server, type ServerOpts, Socket } from "node:net";
import { AmbitError } from "../../errors.js";
import { INPOD_MARK } from "./constants.js";
import { loadCaptureAddon, type SocketAddress } from "./native.js";
import { netnsPath } from "./netns.js";

/** A netns name (under /run/netns) or a path such as /proc/<pid>/ns/net. */
export type NetnsRef = string;

function resolveNetns(ref: NetnsRef): string {
  return ref.includes("/") ? ref : netnsPath(ref);
}

/** Creates the socket and hands it to `adopt`; the fd is closed if adoption throws, so it never leaks. */
function withFd<T>(fd: number, adopt: (fd: number) => T): T {
  try {
    return adopt(fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export interface ListenInNetnsOptions {
  port: number;
  /** Defaults to the wildcard address of `family`. */
  host?: string;
  family?: 4 | 6;
  /** ztunnel uses 128. */
  backlog?: number;
  /** SO_MARK; defaults to 1337 as ztunnel marks every in-pod socket. `false` leaves the socket unmarked. */
  mark?: number | false;
  /** IP_TRANSPARENT on the listener (ztunnel sets it best effort). */
  transparent?: boolean;
  /** SO_REUSEPORT, so a second proxy can bind alongside while the first drains (ztunnel's default). */
  reusePort?: boolean;
  serverOptions?: ServerOpts;
}

/**
 * Makes `server` (net, http, https or http2) listen on a socket inside `netns`; resolves once listening.
 * The server owns the fd from then on: `server.close()` releases it.
 */
export async function listenServerInNetns<S extends Server>(
  server: S,
  netns: NetnsRef,
  options: ListenInNetnsOptions,
): Promise<S> {
  const addon = loadCaptureAddon();
  const family = options.family ?? (options.host !== undefined && isIP(options.host) === 6 ? 6 : 4);
  const host = options.host ?? (family === 6 ? "::" : "0.0.0.0");
  const mark = options.mark ?? INPOD_MARK;
  const fd = addon.socketInNetns(resolveNetns(netns), family, "tcp", {
    ...(mark === false ? {} : { mark }),
    transparent: options.transparent ?? false,
    reuseAddr: true,
    reusePort: options.reusePort ?? true,
  });
  return withFd(fd, (owned) => {
    addon.bind(owned, host, options.port);
    return new Promise<S>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd: owned, backlog: options.backlog ?? 128 }, () => {
        server.off("error", reject);
        resolve(server);
      });
    });
  });
}

/** Opens a plain TCP listener inside `netns`. */
export function listenInNetns(
  netns: NetnsRef,
  options: ListenInNetnsOptions,
  onConnection?: (socket: Socket) => void,
): Promise<Server> {
  return listenServerInNetns(createServer(options.serverOptions ?? {}, onConnection), netns, options);
}

export interface BindUdpInNetnsOptions {
  port: number;
  host?: string;
  family?: 4 | 6;
  /** SO_MARK; defaults to 1337 like every ztunnel socket, `false` leaves it unmarked. */
  mark?: number | false;
}

/** Binds a UDP socket inside `netns` (e.g. the DNS proxy's 15053); resolves once Node listens on it. */
export async function bindUdpInNetns(netns: NetnsRef, options: BindUdpInNetnsOptions): Promise<UdpSocket> {
  const addon = loadCaptureAddon();
  const family = options.family ?? (options.host !== undefined && isIP(options.host) === 6 ? 6 : 4);
  const mark = options.mark ?? INPOD_MARK;
  const fd = addon.socketInNetns(resolveNetns(netns), family, "udp", {
    ...(mark === false ? {} : { mark }),
    reuseAddr: true,
  });
  return withFd(fd, (owned) => {
    addon.bind(owned, options.host ?? (family === 6 ? "::" : "0.0.0.0"), options.port);
    const socket = createSocket(family === 6 ? "udp6" : "udp4");
    return new Promise<UdpSocket>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ fd: owned }, () => {
        socket.off("error", reject);
        resolve(socket);
      });
    });
  });
}

export interface ConnectFromNetnsOptions {
  host: string;
  port: number;
  /** SO_MARK; 1337 makes the in-pod rules let the connection through instead of capturing it again. */
  mark?: number;
  /**
   * Source address to present, e.g. the original client's IP on ztunnel's inbound legs (§2.5). Sets
   * IP_TRANSPARENT + IP_FREEBIND and binds with IP_BIND_ADDRESS_NO_PORT so the kernel picks the port at connect.
   */
  localAddress?: string;
  timeoutMs?: number;
}

/** Connects from inside `netns`; resolves with the connected socket. */
export async function connectFromNetns(netns: NetnsRef, options: ConnectFromNetnsOptions): Promise<Socket> {
  const addon = loadCaptureAddon();
  const family = isIP(options.host);
  if (family !== 4 && family !== 6) {
    throw new AmbitError("AMBIT_CAPTURE_BAD_ADDRESS", `"${options.host}" is not an IP address`);
  }
  const spoof = options.localAddress !== undefined;
  const fd = addon.socketInNetns(resolveNetns(netns), family, "tcp", {
    ...(options.mark === undefined ? {} : { mark: options.mark }),
    transparent: spoof,
    freebind: spoof,
    bindAddressNoPort: spoof,
  });
  const socket = withFd(fd, (owned) => {
    if (options.localAddress !== undefined) addon.bind(owned, options.localAddress, 0);
    return new Socket({ fd: owned });
  });
  // connect() must follow the adoption in the same tick: libuv then owns the non-blocking connect.
  socket.connect({ host: options.host, port: options.port });
  return new Promise((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            socket.destroy();
            reject(
              new AmbitError(
                "AMBIT_CAPTURE_CONNECT_TIMEOUT",
                `connect to ${options.host}:${options.port} timed out after ${options.timeoutMs} ms`,
              ),
            );
          }, options.timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
    const onError = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.once("error", onError);
  });
}

function socketFd(socket: Socket): number {
  // Node keeps the fd on its internal handle; there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0)
    throw new AmbitError("AMBIT_CAPTURE_NO_FD", "socket has no open file descriptor");
  return fd;
}

/** Where a captured connection was headed before REDIRECT (SO_ORIGINAL_DST, then IP6T_SO_ORIGINAL_DST). */
export function originalDestination(socket: Socket): SocketAddress {
  return loadCaptureAddon().originalDst(socketFd(socket));
}

/** Sets SO_MARK on a socket Node already owns. */
export function markSocket(socket: Socket, mark: number): void {
  loadCaptureAddon().setMark(socketFd(socket), mark);
}
