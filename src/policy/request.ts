// The pure request model both evaluators read. The data plane fills it from sockets and headers; `ambit check`
// fills it from the command line. Nothing here touches the network.

export interface L7Source {
  /** Peer SPIFFE ID (`spiffe://td/ns/x/sa/y`, scheme optional), or null for a plaintext peer. */
  principal: string | null;
  namespace?: string;
  /** Address of the directly connected peer (`source.ip`, `ipBlocks`). */
  ip: string;
  /** Original client address from X-Forwarded-For/PROXY (`remote.ip`, `remoteIpBlocks`); defaults to `ip`. */
  remoteIp?: string;
}

export interface L7Destination {
  ip: string;
  port: number;
  namespace?: string;
  /** `<namespace>/<name>` of the Service or ServiceEntry the request is for; narrows Service-targeted policies. */
  service?: string;
  labels?: Record<string, string>;
}

export interface HttpAttributes {
  method: string;
  /** Raw request path, query included; the engine normalizes it. */
  path: string;
  /** `:authority` as sent, port included. */
  host: string;
  /** Lower-case header names (as Node delivers them); repeated headers as arrays. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface JwtResult {
  claims: Readonly<Record<string, unknown>>;
  valid: boolean;
  /** Why validation failed (Envoy's body text), when `valid` is false. */
  error?: string;
}

export interface L7Request {
  source: L7Source;
  destination: L7Destination;
  /** null for a TCP (non-HTTP) stream through the waypoint: HTTP-only fields follow policy.md §1.8. */
  http: HttpAttributes | null;
  /** Result of RequestAuthentication; null when no token was presented. */
  jwt: JwtResult | null;
  sni?: string;
}

export interface L4Connection {
  source: { principal: string | null; ip: string };
  destination: {
    ip: string;
    /** Workload (target) port. */
    port: number;
    namespace: string;
    /** `<ns>/<name>` keys of WORKLOAD_SELECTOR policies attached to the workload (Workload.authorization_policies). */
    policies?: readonly string[];
  };
}
