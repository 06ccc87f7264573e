// ztunnel's access log: one line per connection when it completes, key=value (data-plane.md §6 "Access log";
// user-needs.md §2.3). Strings are quoted, addresses and numbers are not; fields without a value are left out.
// Only addresses, names and identities are logged: never keys or tokens.

export interface AccessLogEntry {
  level: "info" | "warn" | "error";
  message: string;
  src: { addr: string; workload?: string; namespace?: string; identity?: string; cluster?: string };
  dst: {
    addr: string;
    hboneAddr?: string;
    service?: string;
    workload?: string;
    namespace?: string;
    identity?: string;
    cluster?: string;
  };
  direction: "inbound" | "outbound";
  bytesSent: number;
  bytesRecv: number;
  durationMs: number;
  error?: string;
}

export type AccessLogSink = (line: string) => void;

const q = (v: string) => JSON.stringify(v);

export function formatAccessLog(e: AccessLogEntry): string {
  const parts: string[] = [`${e.level} access ${e.message}`];
  const add = (k: string, v: string | undefined, quoted = true) => {
    if (v !== undefined && v !== "") parts.push(`${k}=${quoted ? q(v) : v}`);
  };
  add("src.addr", e.src.addr, false);
  add("src.workload", e.src.workload);
  add("src.namespace", e.src.namespace);
  add("src.identity", e.src.identity);
  add("src.cluster", e.src.cluster);
  add("dst.addr", e.dst.addr, false);
  add("dst.hbone_addr", e.dst.hboneAddr, false);
  add("dst.service", e.dst.service);
  add("dst.workload", e.dst.workload);
  add("dst.namespace", e.dst.namespace);
  add("dst.identity", e.dst.identity);
  add("dst.cluster", e.dst.cluster);
  add("direction", e.direction);
  parts.push(`bytes_sent=${e.bytesSent}`, `bytes_recv=${e.bytesRecv}`, `duration="${Math.round(e.durationMs)}ms"`);
  add("error", e.error);
  return parts.join(" ");
}

/** The default sink: one line on stdout. */
export const stdoutSink: AccessLogSink = (line) => {
  process.stdout.write(`${line}\n`);
};
