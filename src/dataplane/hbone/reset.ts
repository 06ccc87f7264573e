// Node's http2 destroys a stream without an error when the peer resets it (RST_STREAM CANCEL) or the connection
// dies under it, and ends its readable side first, so a cut tunnel would look like a clean EOF and a truncated
// transfer like a complete one. ztunnel treats that as an error; so do we: a stream closed with a non-zero
// HTTP/2 code is destroyed with AMBIT_HBONE_STREAM_RESET, which readers see as an 'error' event.

import type { Http2Stream } from "node:http2";
import { AmbitError } from "../../errors.js";

const NO_ERROR = 0;

type DestroyFn = (err: Error | null, callback: (err?: Error | null) => void) => void;

export function surfaceResets(stream: Http2Stream, what: string): void {
  const target = stream as unknown as { _destroy: DestroyFn };
  const destroy = target._destroy;
  target._destroy = function destroyWithReason(this: Http2Stream, err, callback) {
    const code = this.rstCode;
    const reset = err == null && code !== undefined && code !== NO_ERROR;
    const reason = reset ? new AmbitError("AMBIT_HBONE_STREAM_RESET", `${what} was reset (HTTP/2 code ${code})`) : err;
    destroy.call(this, reason, callback);
  };
}
