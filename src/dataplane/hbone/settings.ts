// HTTP/2 and socket settings as ztunnel uses them (data-plane.md §1.3, §1.5, §1.6).

import type { Settings } from "node:http2";

const KiB = 1024;
const MiB = 1024 * KiB;

export const HBONE_PORT = 15008;

export const STREAM_WINDOW = 4 * MiB;
// 4x the stream window, so one stalled stream cannot starve the others on the connection.
export const CONNECTION_WINDOW = 16 * MiB;

export const CLIENT_SETTINGS: Settings = {
  enablePush: false,
  initialWindowSize: STREAM_WINDOW,
  maxFrameSize: MiB,
  maxHeaderListSize: 16 * KiB,
};

export const SERVER_SETTINGS: Settings = {
  initialWindowSize: STREAM_WINDOW,
  maxFrameSize: MiB,
  maxHeaderListSize: 64 * KiB,
  maxConcurrentStreams: 200,
};

/** nghttp2 memory cap per session, in MB; Node's default of 10 is too small for 4 MiB windows under bulk load. */
export const MAX_SESSION_MEMORY_MB = 64;

export const MAX_STREAMS_PER_SESSION = 100;
export const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;
export const CONNECT_TIMEOUT_MS = 10_000;
export const KEEPALIVE_INTERVAL_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;
export const TCP_KEEPALIVE_MS = 180_000;
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Node flags for a process that terminates HBONE (ztunnel, waypoint). Node's HTTP/2 hands every decrypted TLS
 * record to JS in its own ArrayBuffer (64 Ki per GiB); with the default 16 MB young generation those pile up as
 * external memory until V8 answers with full mark-compacts. A 2 MB young generation lets cheap scavenges free them
 * first: on the bulk benchmark the server's CPU per GiB drops by about a third. It must be given at launch;
 * `v8.setFlagsFromString` after start has no effect on it.
 */
export const DATA_PLANE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];
