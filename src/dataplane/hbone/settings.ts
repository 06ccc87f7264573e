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
