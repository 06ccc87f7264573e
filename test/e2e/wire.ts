// A bounded tcpdump on one interface of one netns, for checks on the bytes that cross the cluster network.
import { spawn } from "node:child_process";

export interface WireCapture {
  /** Stops tcpdump (SIGINT, then SIGKILL) and returns what it printed: one header line per packet, then its ASCII. */
  stop(): Promise<string>;
}

/**
 * Starts `tcpdump -A` in `netns` on `iface` and resolves once it listens, so nothing sent afterwards is missed.
 * `-c` and a hard timer bound it even if the caller never stops it.
 */
export function captureWire(netns: string, iface: string, filter: string, maxMs = 20_000): Promise<WireCapture> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ip",
      ["netns", "exec", netns, "tcpdump", "-i", iface, "-nn", "-l", "-A", "-s", "0", "-c", "5000", filter],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    const closed = new Promise<void>((r) => child.once("close", () => r()));
    const kill = setTimeout(() => child.kill("SIGKILL"), maxMs);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
    });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      const late = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await closed;
      clearTimeout(late);
      clearTimeout(kill);
      return out;
    };
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("listening on")) resolve({ stop });
    });
    child.once("error", (e) => {
      clearTimeout(kill);
      reject(e);
    });
    void closed.then(() => {
      if (!err.includes("listening on")) {
        clearTimeout(kill);
        reject(new Error(`tcpdump did not start: ${err.trim()}`));
      }
    });
  });
}
