// What one request carries through the filter chain: where it came from (the tunnel), where it goes (the
// destination the state resolved), the headers that will be forwarded, and what happened (code, flags, sizes).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { JwtResult } from "../../policy/request.js";
import type { WaypointEndpoint } from "../../xds/waypoint-config.js";
import type { TunnelInfo } from "../hbone/server.js";
import type { Filter } from "./chain.js";
import type { Headers } from "./headers.js";
import type { Destination, WaypointState } from "./state.js";

export type Downstream =
  | { version: "HTTP/1.1"; req: IncomingMessage; res: ServerResponse }
  | { version: "HTTP/2"; req: Http2ServerRequest; res: Http2ServerResponse };

export interface RequestContext {
  readonly tunnel: TunnelInfo;
  readonly state: WaypointState;
  readonly destination: Destination;
  readonly downstream: Downstream;
  /** The chain this request runs through: its response hooks are this chain's, even if the config changes. */
  readonly chain: readonly Filter[];
  /** gRPC: HTTP/2 with content-type application/grpc*. */
  readonly grpc: boolean;
  readonly method: string;
  /** Path with the query string, as received. */
  readonly path: string;
  /** `:authority` or Host. */
  readonly authority: string;
  /** Lower-case request headers as they will be forwarded; filters may change them. */
  headers: Headers;
  jwt: JwtResult | null;
  readonly startedAt: number;
  readonly startNs: bigint;
  /** W3C traceparent sent upstream, and whether this request is sampled. */
  traceparent: string;
  sampled: boolean;
  // Outcome, filled as the request goes.
  responseCode: number;
  /** Envoy response flags (UF, URX, UT, NR, UH, DC, UC); none prints as "-". */
  flags: string[];
  details: string;
  grpcStatus: string | undefined;
  endpoint: WaypointEndpoint | undefined;
  /** Envoy cluster name of the chosen backend, e.g. `inbound-vip|9080|http|reviews.default.svc.cluster.local`. */
  cluster: string | undefined;
  routeName: string | undefined;
  requestBytes: number;
  responseBytes: number;
}

export function flagsText(flags: readonly string[]): string {
  return flags.length === 0 ? "-" : flags.join(",");
}
