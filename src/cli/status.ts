// `ambit status`: what a running `ambit up` reports in its state file.
import type { Command } from "commander";
import { runningState } from "./local-state.js";

export function registerStatus(program: Command, print: (s: string) => void): void {
  program
    .command("status")
    .description("pods, nodes and waypoints of the running mesh")
    .option("--prefix <p>", "the run's prefix", "ambit")
    .action((flags: { prefix: string }) => {
      print(statusText(flags.prefix));
    });
}

export function statusText(prefix: string): string {
  const s = runningState(prefix);
  const table = (rows: string[][]) => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    return rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n");
  };
  const out = [
    `Mesh "${s.prefix}" (pid ${s.pid}) since ${s.startedAt}, folder ${s.folder}`,
    `Control plane: xDS ${s.controlPlane.xds}, CA ${s.controlPlane.ca}`,
    "",
    table([
      ["NODE", "ZTUNNEL ADMIN", "METRICS", "READINESS"],
      ...s.nodes.map((n) => [n.name, n.ztunnelAdmin, n.metrics, n.readiness]),
    ]),
    "",
    table([
      ["NAMESPACE", "POD", "IP", "NODE", "CAPTURED", "READY"],
      ...s.pods.map((p) => [p.namespace, p.name, p.ip, p.node, p.captured ? "yes" : "no", p.ready ? "yes" : "no"]),
    ]),
  ];
  if (s.waypoints.length > 0) {
    out.push(
      "",
      table([
        ["NAMESPACE", "WAYPOINT", "POD", "IP", "NODE"],
        ...s.waypoints.map((w) => [w.namespace, w.name, w.pod, w.ip, w.node]),
      ]),
    );
  }
  return `${out.join("\n")}\n`;
}
