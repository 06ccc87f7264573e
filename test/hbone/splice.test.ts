// splice: the byte copy between a tunnel's two legs (data-plane.md §1.4 "Byte stream semantics"): order and
// half-close are kept while writes are batched per event-loop turn and bounded per writer.

import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { describe, it } from "node:test";
import { SPLICE_BUFFER_BYTES, splice } from "../../src/dataplane/hbone/splice.js";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A leg that records each write call (a `_writev` batch is one call) and completes it when told to. */
class Leg extends Duplex {
  readonly calls: Buffer[][] = [];
  readonly #pending: Array<() => void> = [];
  constructor(readonly holdWrites = false) {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.#record([chunk], done);
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    this.#record(
      chunks.map((c) => c.chunk),
      done,
    );
  }
  /** Completes every write held so far. */
  release(): void {
    for (const done of this.#pending.splice(0)) done();
  }
  received(): Buffer {
    return Buffer.concat(this.calls.flat());
  }
  #record(chunks: Buffer[], done: () => void): void {
    this.calls.push(chunks);
    if (this.holdWrites) this.#pending.push(done);
    else done();
  }
}

/** Ends both legs' readable sides and waits for splice to finish. */
async function finish(a: Leg, b: Leg, done: Promise<void>): Promise<void> {
  a.push(null);
  b.push(null);
  b.release();
  await done;
}

describe("splice", () => {
  // data-plane.md §1.4: bytes are copied as they come; batching must not delay a lone request.
  it("writes a turn's first chunk at once and the chunks after it together when the turn ends", async () => {
    const a = new Leg();
    const b = new Leg();
    const done = splice(a, b);
    await turn();
    const [x, y, z] = [Buffer.from("first"), Buffer.from("second"), Buffer.from("third")];
    a.push(x);
    a.push(y);
    a.push(z);
    assert.deepEqual(b.calls, [[x]]);
    await turn();
    assert.deepEqual(b.calls, [[x], [y, z]]);
    await finish(a, b, done);
  });

  it("pauses the reader once the writer holds SPLICE_BUFFER_BYTES and resumes it on drain, keeping order", async () => {
    const a = new Leg();
    const b = new Leg(true);
    const done = splice(a, b);
    await turn();
    const chunk = 64 * 1024;
    const sent: Buffer[] = [];
    let i = 0;
    while (!a.isPaused()) {
      const c = Buffer.alloc(chunk, i++ % 251);
      sent.push(c);
      a.push(c);
      await turn();
      assert.ok(i < 100, "the reader was never paused");
    }
    assert.ok(b.writableLength >= SPLICE_BUFFER_BYTES);
    assert.ok(b.writableLength < SPLICE_BUFFER_BYTES + chunk);
    // While paused, pushed bytes wait in the reader and reach no write call.
    const written = b.calls.length;
    const late = Buffer.alloc(chunk, 7);
    sent.push(late);
    a.push(late);
    await turn();
    assert.equal(b.calls.length, written);
    while (a.isPaused()) {
      b.release();
      await turn();
    }
    b.release();
    await turn();
    assert.ok(b.received().equals(Buffer.concat(sent)));
    await finish(a, b, done);
  });

  it(
    "bytes for a writer that someone else already ended cut both legs instead of vanishing",
    { timeout: 5000 },
    async () => {
      const a = new Leg();
      const b = new Leg();
      const done = splice(a, b);
      await turn();
      b.end();
      a.push(Buffer.from("lost?"));
      await done;
      assert.equal(a.destroyed, true);
      assert.equal(b.destroyed, true);
      assert.equal(b.received().length, 0);
    },
  );

  // data-plane.md §1.4: EOF on one side ends the other side's writer; the opposite direction keeps flowing.
  it("EOF after chunks held for the turn delivers them before ending the writer; the other way keeps flowing", async () => {
    const a = new Leg();
    const b = new Leg();
    const done = splice(a, b);
    await turn();
    a.push(Buffer.from("1"));
    a.push(Buffer.from("2"));
    a.push(null);
    await turn();
    assert.equal(b.received().toString(), "12");
    assert.equal(b.writableEnded, true);
    b.push(Buffer.from("reply"));
    await turn();
    assert.equal(a.received().toString(), "reply");
    await finish(a, b, done);
  });
});
