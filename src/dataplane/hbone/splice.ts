// Bidirectional copy with half-close propagation: EOF on one side ends the other side's writer while the
// opposite direction keeps flowing (data-plane.md §1.4 "Byte stream semantics"). Sockets handed in must have
// allowHalfOpen, or Node would end their write side as soon as their read side ends.

import type { Duplex } from "node:stream";

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
    a.pipe(b);
    b.pipe(a);
  });
}
