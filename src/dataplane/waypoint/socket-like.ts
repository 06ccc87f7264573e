// Node's http server and http.Agent expect a net.Socket; an HBONE tunnel is an Http2Stream. Two gaps need
// filling: socket-only methods the agent calls on pooled connections (setKeepAlive, setNoDelay, ref, unref), and
// string writes — Http2Stream keeps `decodeStrings: false`, and latin1 header strings written through it came out
// corrupted on Node 20 (found in this module's tests), so strings are turned into Buffers before they reach it.

import type { Duplex } from "node:stream";

type Writable = Duplex & {
  setKeepAlive?: unknown;
  setNoDelay?: unknown;
  ref?: unknown;
  unref?: unknown;
  __ambitSocketLike?: true;
};

export function socketLike<T extends Duplex>(stream: T): T {
  const s = stream as Writable;
  if (s.__ambitSocketLike) return stream;
  s.__ambitSocketLike = true;
  const self = () => stream;
  s.setKeepAlive ??= self;
  s.setNoDelay ??= self;
  s.ref ??= self;
  s.unref ??= self;
  const write = stream.write.bind(stream) as (chunk: unknown, enc?: unknown, cb?: unknown) => boolean;
  const end = stream.end.bind(stream) as (chunk?: unknown, enc?: unknown, cb?: unknown) => T;
  const toBuffer = (chunk: unknown, enc: unknown) =>
    typeof chunk === "string" ? Buffer.from(chunk, typeof enc === "string" ? (enc as BufferEncoding) : "utf8") : chunk;
  stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown) =>
    typeof enc === "function" ? write(toBuffer(chunk, undefined), enc) : write(toBuffer(chunk, enc), cb)) as T["write"];
  (stream as Duplex).end = ((chunk?: unknown, enc?: unknown, cb?: unknown) => {
    if (typeof chunk === "function" || chunk === undefined || chunk === null) return end(chunk);
    return typeof enc === "function" ? end(toBuffer(chunk, undefined), enc) : end(toBuffer(chunk, enc), cb);
  }) as Duplex["end"];
  return stream;
}
