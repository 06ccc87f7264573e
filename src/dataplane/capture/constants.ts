// ztunnel's ports and istio-cni's marks, as listed in data-plane.md §2.1 and §2.3.

export const ZtunnelPorts = {
  outbound: 15001,
  inboundPlaintext: 15006,
  inboundHbone: 15008,
  dns: 15053,
  metrics: 15020,
  readiness: 15021,
} as const;

/** SO_MARK on every socket ztunnel creates in a pod (1337); capture rules skip packets carrying it. */
export const INPOD_MARK = 0x539;
/** Connmark stamped on ztunnel's connections so the app's replies route back to its transparent sockets. */
export const INPOD_TPROXY_MARK = 0x111;
export const INPOD_MASK = 0xfff;
export const INPOD_RESTORE_MASK = 0xffffffff;
/** Policy-routing table that delivers marked replies locally (`local default dev lo`). */
export const ROUTE_TABLE_INBOUND = 100;
export const INPOD_RULE_PRIORITY = 32764;

/** Node-local probes are SNAT-ed to this address on the host and bypass capture. */
export const HOST_PROBE_SNAT = { v4: "169.254.7.127", v6: "fd16:9254:7127:1337:ffff:ffff:ffff:ffff" } as const;

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
