// Protocol detection on a tunnel (Envoy's http_inspector): the HTTP/2 connection preface means h2c (gRPC
// included), an HTTP/1.x request line means HTTP/1.1, anything else — or silence, as with server-first
// protocols — is TCP. The bytes read are pushed back so the parser that takes over sees them all.

import type { Duplex } from "node:stream";

export type Detected = "http1" | "h2c" | "tcp";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
// Token characters of a method, then a space (RFC 9112 §3).
const REQUEST_LINE = /^[A-Z][A-Z_-]{1,19} [^ ]+ HTTP\/1\.[01]\r?\n?/;
const METHOD_PREFIX = /^[A-Z][A-Z_-]{0,19}( [^ \r\n]*( H?T?T?P?\/?1?\.?[01]?)?)?$/;

export function classify(head: Buffer): Detected | "more" {
  const n = Math.min(head.length, H2_PREFACE.length);
  if (head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return head.length >= H2_PREFACE.length ? "h2c" : "more";
  const text = head.subarray(0, 256).toString("latin1");
  if (REQUEST_LINE.test(text)) return "http1";
  if (head.length < 256 && !text.includes("\n") && METHOD_PREFIX.test(text)) return "more";
  return "tcp";
}

/** Waits for enough bytes to decide (at most `timeoutMs` of silence → tcp) and puts them back on the stream. */
export function detect(stream: Duplex, timeoutMs: number): Promise<Detected> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (d: Detected) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      if (chunks.length > 0) stream.unshift(Buffer.concat(chunks));
      resolve(d);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      // biome-ignore lint/suspicious/noAssignInExpressions: the read loop idiom
      while ((chunk = stream.read() as Buffer | null) !== null) chunks.push(chunk);
      const verdict = classify(Buffer.concat(chunks));
      if (verdict !== "more") finish(verdict);
    };
    const onEnd = () => finish("tcp");
    const timer = setTimeout(() => finish("tcp"), timeoutMs);
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
  });
}
