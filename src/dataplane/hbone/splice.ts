// Bidirectional copy with half-close propagation: EOF on one side ends the other side's writer while the
// opposite direction keeps flowing (data-plane.md §1.4 "Byte stream semantics"). Sockets handed in must have
// allowHalfOpen, or Node would end their write side as soon as their read side ends.

import type { Duplex } from "node:stream";

/**
 * Bytes a writer may hold before its reader is paused: ztunnel's largest copy buffer (data-plane.md §1.4). Node's
 * default (16 KiB, one TLS record) would pause and resume the reader for nearly every chunk under bulk load.
 */
export const SPLICE_BUFFER_BYTES = 256 * 1024;

/** Resolves when both sides are closed; an error on either side destroys the other. */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve();
    };
    const fail = (other: Duplex) => (err: Error) => {
      if (!other.destroyed) other.destroy(err);
    };
    a.once("close", onClose);
    b.once("close", onClose);
    a.on("error", fail(b));
    b.on("error", fail(a));
    // A side closed without finishing its reads is an abort: cut the other side instead of leaving it waiting.
    a.once("close", () => {
      if (!a.readableEnded && !b.destroyed) b.destroy();
    });
    b.once("close", () => {
      if (!b.readableEnded && !a.destroyed) a.destroy();
    });
    copy(a, b);
    copy(b, a);
  });
}

/**
 * One direction. The first chunk of a turn of the event loop is written at once, so a lone request pays no delay;
 * the chunks that follow it in the same turn (a TCP read holds several TLS records) are corked and leave together
 * in one writev when the turn ends, so bulk transfers make one write per turn instead of one per 8-16 KiB.
 */
function copy(from: Duplex, to: Duplex): void {
  let inTurn = false;
  let corked = false;
  let paused = false;
  const endTurn = () => {
    inTurn = false;
    if (corked) {
      corked = false;
      to.uncork();
    }
  };
  const resume = () => {
    paused = false;
    from.resume();
  };
  from.on("data", (chunk: Buffer) => {
    // A writer ended by someone else still gets the write, so its write-after-end error cuts both legs.
    if (to.destroyed) return;
    if (!inTurn) {
      inTurn = true;
      setImmediate(endTurn);
    } else if (!corked) {
      corked = true;
      to.cork();
    }
    to.write(chunk);
    if (!paused && to.writableLength >= SPLICE_BUFFER_BYTES) {
      paused = true;
      from.pause();
      to.once("drain", resume);
    }
  });
  from.once("end", () => {
    if (!to.destroyed) to.end();
  });
}
