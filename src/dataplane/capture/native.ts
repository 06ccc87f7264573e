// Loads the capture addon (native/) once; everything Linux-socket-specific that Node lacks goes through here.
import { createRequire } from "node:module";
import { AmbitError } from "../../errors.js";

export interface NetnsSocketOptions {
  /** SO_MARK; ztunnel marks every socket it makes in a pod with 1337 so capture skips it. */
  mark?: number;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT: bind to a foreign (client) address. */
  transparent?: boolean;
  /** IP_FREEBIND / IPV6_FREEBIND: bind to an address not configured on any interface. */
  freebind?: boolean;
  reuseAddr?: boolean;
  reusePort?: boolean;
  /** IP_BIND_ADDRESS_NO_PORT: bind(ip, 0) leaves the port choice to connect(). */
  bindAddressNoPort?: boolean;
}

export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface CaptureAddon {
  socketInNetns(nsPath: string, family: 4 | 6, type: "tcp" | "udp", opts?: NetnsSocketOptions): number;
  originalDst(fd: number): SocketAddress;
  setMark(fd: number, mark: number): void;
  setTransparent(fd: number): void;
  bind(fd: number, address: string, port: number): void;
}

// Same relative path from src/dataplane/capture and from dist/dataplane/capture.
const CANDIDATES = [
  "../../../native/build/Release/ambit_capture.node",
  "../../../native/build/Debug/ambit_capture.node",
];

let cached: CaptureAddon | undefined;

export function loadCaptureAddon(): CaptureAddon {
  if (cached) return cached;
  if (process.platform !== "linux") {
    throw new AmbitError("AMBIT_CAPTURE_UNSUPPORTED_PLATFORM", `traffic capture needs Linux, not ${process.platform}`);
  }
  const require = createRequire(import.meta.url);
  let lastError: unknown;
  for (const candidate of CANDIDATES) {
    try {
      cached = require(candidate) as CaptureAddon;
      return cached;
    } catch (e) {
      lastError = e;
    }
  }
  throw new AmbitError("AMBIT_CAPTURE_NATIVE_MISSING", "the capture addon is not built: run npm run build:native", {
    cause: lastError,
  });
}

export function isCaptureAddonAvailable(): boolean {
  try {
    loadCaptureAddon();
    return true;
  } catch {
    return false;
  }
}
