// A request body that can be sent again: retries need the bytes the failed try already consumed. Chunks are kept
// up to a limit (Envoy's per-request buffer limit); past it the body streams on but can no longer be replayed.

import type { Readable, Writable } from "node:stream";

export class ReplayableBody {
  readonly #src: Readable;
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #bytes = 0;
  #overflow = false;
  #started = false;
  #ended = false;
  #sink: Writable | undefined;

  constructor(src: Readable, limit: number) {
    this.#src = src;
    this.#limit = limit;
  }

  /** Bytes received from the client so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True while every byte received is still held, so another try can start from the beginning. */
  get replayable(): boolean {
    return !this.#overflow;
  }

  /** Sends the body (what is held, then the rest as it arrives) to `sink`, ending it when the client is done. */
  attach(sink: Writable): void {
    this.#sink = sink;
    for (const c of this.#chunks) sink.write(c);
    if (this.#ended) {
      sink.end();
      return;
    }
    if (!this.#started) {
      this.#started = true;
      this.#src.on("data", (c: Buffer) => this.#onData(c));
      this.#src.once("end", () => {
        this.#ended = true;
        this.#sink?.end();
      });
      // A filter stopped the body (a Wasm plugin answered or reset): cut the try, and never replay a broken body.
      this.#src.once("error", (e: Error) => {
        this.#overflow = true;
        this.#sink?.destroy(e);
      });
    }
    this.#src.resume();
  }

  /** Stops feeding the current sink (its try failed). */
  detach(): void {
    this.#sink = undefined;
  }

  #onData(c: Buffer): void {
    this.#bytes += c.length;
    if (!this.#overflow) {
      this.#kept += c.length;
      if (this.#kept > this.#limit) {
        this.#overflow = true;
        this.#chunks.length = 0;
      } else {
        this.#chunks.push(c);
      }
    }
    const sink = this.#sink;
    if (sink && !sink.write(c)) {
      this.#src.pause();
      sink.once("drain", () => this.#src.resume());
    }
  }
}
