// A body on its way through a plugin's body callbacks (proxy_on_request_body / proxy_on_response_body). Each chunk
// is handed to the plugin; "continue" forwards what the host holds (possibly rewritten), "pause" keeps buffering
// (Envoy's StopIterationAndBuffer) until a later callback continues. The end of the body is one more callback with
// end_of_stream and no bytes, since a stream only knows it has ended after its last chunk. A local response or
// "close" stops the body: `onStop` answers or resets, and the stream errors so the other side is cut.

import { Transform, type TransformCallback } from "node:stream";
import type { HttpAction } from "../../wasm/index.js";

const EMPTY = new Uint8Array(0);

export interface BodyCallbacks {
  onBody(chunk: Uint8Array, endOfStream: boolean): HttpAction;
  take(): Uint8Array;
  /** Settles when a paused plugin resumes the stream. */
  resumed(): Promise<HttpAction>;
  onStop(action: Exclude<HttpAction, "continue" | "pause">): void;
}

export class PluginBody extends Transform {
  constructor(private readonly cb: BodyCallbacks) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#step(this.cb.onBody(chunk, false), false, done);
  }

  override _flush(done: TransformCallback): void {
    this.#step(this.cb.onBody(EMPTY, true), true, done);
  }

  #step(action: HttpAction, end: boolean, done: TransformCallback): void {
    if (action === "continue") {
      const held = this.cb.take();
      if (held.length > 0) this.push(held);
      done();
      return;
    }
    if (action === "pause") {
      if (!end) {
        done();
        return;
      }
      // Paused on the last callback: wait for the plugin (e.g. on an http call), then forward what it holds.
      this.cb.resumed().then((a) => this.#step(a === "pause" ? "continue" : a, true, done));
      return;
    }
    this.cb.onStop(action);
    done(new Error("body stopped by a wasm plugin"));
  }
}
