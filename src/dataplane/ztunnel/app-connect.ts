// The inbound leg with source-IP preservation (data-plane.md §2.5): connect to the app presenting the tunnel's TCP
// peer (the client pod, or the waypoint) as the source. Where the platform cannot (no IP_TRANSPARENT, no return
// route), deliver from the proxy's own side instead, as ztunnel's best-effort ENABLE_ORIG_SRC does, and say why once.

import type { Socket } from "node:net";
import type { AppConnector } from "./context.js";
import type { Destination } from "./route.js";

/** Connects to `dst`, binding `source` as the local address when given; the socket must be allowHalfOpen. */
export type AppDialer = (dst: Destination, source: string | undefined) => Promise<Socket>;

export interface SourcePreservingOptions {
  /** Whether `src` may be presented to `dst` at all (e.g. only pod IPs; never the host's SNAT address). */
  spoofable(src: Destination, dst: Destination): boolean;
  /** Told once, on the first spoofed connect that fails for a reason other than the app refusing it. */
  warn(message: string): void;
}

/** Errors that are the app's answer, not the platform's: connecting from our own address would meet them too. */
const APP_ANSWERS = new Set(["ECONNREFUSED", "ECONNRESET"]);

export function sourcePreservingConnector(dial: AppDialer, opts: SourcePreservingOptions): AppConnector {
  let warned = false;
  return async (dst, src) => {
    // A pod calling itself through a service is connected without spoofing (§2.5).
    if (src.address === dst.address || !opts.spoofable(src, dst)) return dial(dst, undefined);
    try {
      return await dial(dst, src.address);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== undefined && APP_ANSWERS.has(code)) throw e;
      if (!warned) {
        warned = true;
        opts.warn(
          `cannot preserve source IP ${src.address} toward ${dst.address}:${dst.port} (${e instanceof Error ? e.message : String(e)}); apps see the proxy's address instead`,
        );
      }
      return dial(dst, undefined);
    }
  };
}
