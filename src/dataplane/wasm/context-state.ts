// Host-side state of one plugin context (root, HTTP stream or TCP stream): the header maps and buffers the
// plugin may touch during its callbacks, what it asked the host to do, and the pause/resume plumbing.

import type { Deferred } from "./deferred.js";
import { deferred } from "./deferred.js";
import type { HeaderMap } from "./header-map.js";
import type { PropertyBag } from "./properties.js";
import type { HttpAction, HttpCallResponse, LocalResponse } from "./types.js";

export type ContextKind = "root" | "http" | "stream";

export class ContextState {
  /** Indexed by the ABI's map type. */
  readonly maps: Array<HeaderMap | undefined> = [];
  /** Indexed by the ABI's buffer type (bodies and TCP data; configuration lives on the runtime). */
  readonly buffers: Array<Uint8Array | undefined> = [];
  /** Indexed by the ABI's stream type: set while that direction is paused. */
  readonly waiters: Array<Deferred<HttpAction> | undefined> = [];
  lastWaiter: Deferred<HttpAction> | undefined;
  /** Set while one of this context's stream callbacks (on_request_headers, ...) runs. */
  inStreamCallback = false;
  localResponse: LocalResponse | undefined;
  closeRequested = false;
  /** The failure action has been delivered once; later callbacks pass through. */
  failed = false;
  awaitingDone = false;
  readonly done = deferred<void>();
  deleted = false;
  /** Set only during proxy_on_http_call_response. */
  callResponse: HttpCallResponse | undefined;
  callStatus: { code: number; message: string } | undefined;

  constructor(
    readonly id: number,
    readonly kind: ContextKind,
    readonly generation: number,
    readonly bag: PropertyBag,
  ) {}

  get paused(): boolean {
    return this.waiters.some((w) => w !== undefined);
  }

  pause(direction: number): void {
    const w = deferred<HttpAction>();
    this.waiters[direction] = w;
    this.lastWaiter = w;
  }

  resume(direction: number, action: HttpAction): boolean {
    const w = this.waiters[direction];
    if (w === undefined) return false;
    this.waiters[direction] = undefined;
    w.resolve(action);
    return true;
  }

  resumeAll(action: HttpAction): boolean {
    let any = false;
    for (let d = 0; d < this.waiters.length; d++) any = this.resume(d, action) || any;
    return any;
  }
}
