// `ambit up DIR`: runs the mesh in the foreground until SIGINT/SIGTERM, printing progress and a summary.
import { resolve } from "node:path";
import type { Command } from "commander";
import { LocalMesh } from "../local/local-mesh.js";
import { progressTo } from "../local/progress.js";
import type { MeshState } from "../local/state-file.js";

export interface UpFlags {
  nodes: string;
  prefix?: string;
  podCidr?: string;
  serviceCidr?: string;
  caDir?: string;
  trustDomain?: string;
}

export function registerUp(program: Command, setExit: (code: number) => void): void {
  program
    .command("up <dir>")
    .description("run the ambient mesh for a folder of manifests on this Linux machine (root), until Ctrl-C")
    .option("--nodes <n>", "number of nodes (a ztunnel each)", "2")
    .option("--prefix <p>", "prefix of every netns, link and state path", "ambit")
    .option("--pod-cidr <cidr>", "pod addresses (default 10.88.0.0/16)")
    .option("--service-cidr <cidr>", "Service VIPs (default 10.96.0.0/16)")
    .option(
      "--trust-domain <td>",
      "SPIFFE trust domain of workload identities (MeshConfig trustDomain)",
      "cluster.local",
    )
    .option(
      "--ca-dir <dir>",
      "plug-in CA, laid out as Istio's cacerts: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem (default: a generated root)",
    )
    .action(async (dir: string, flags: UpFlags) => {
      setExit(await up(resolve(dir), flags));
    });
}

export async function up(folder: string, flags: UpFlags): Promise<number> {
  const write = (s: string) => process.stdout.write(s);
  const nodes = Number.parseInt(flags.nodes, 10);
  if (!Number.isInteger(nodes) || nodes < 1) {
    process.stderr.write(`Error: --nodes must be a positive integer, got "${flags.nodes}"\n`);
    return 2;
  }
  const mesh = await LocalMesh.start({
    folder,
    nodes,
    prefix: flags.prefix ?? "ambit",
    ...(flags.podCidr ? { podCidr: flags.podCidr } : {}),
    ...(flags.serviceCidr ? { serviceCidr: flags.serviceCidr } : {}),
    ...(flags.caDir ? { caDir: resolve(flags.caDir) } : {}),
    ...(flags.trustDomain ? { trustDomain: flags.trustDomain } : {}),
    progress: progressTo(write),
  });
  write(summary(mesh.state(), mesh.logDir));
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      write(`\n${signal}: stopping the mesh…\n`);
      void mesh.stop().then(() => {
        write("✔ stopped; nothing left behind\n");
        done();
      });
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
  return 0;
}

export function summary(state: MeshState, logDir: string): string {
  const lines = ["", "Running:"];
  const rows = [["NAMESPACE", "POD", "IP", "NODE", "CAPTURED", "READY"]];
  for (const p of state.pods)
    rows.push([p.namespace, p.name, p.ip, p.node, p.captured ? "yes" : "no", p.ready ? "yes" : "no"]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd());
  for (const w of state.waypoints) lines.push(`  waypoint ${w.namespace}/${w.name}: pod ${w.pod} ${w.ip} on ${w.node}`);
  const prefix = state.prefix === "ambit" ? "" : ` --prefix ${state.prefix}`;
  const curl = state.pods.find((p) => p.name.startsWith("curl"));
  lines.push("", "Try:");
  if (curl) {
    lines.push(
      `  ambit exec${prefix} -n ${curl.namespace} ${curl.name} -- curl -s productpage:9080/productpage | grep -o '<title>.*</title>'`,
    );
  }
  lines.push(
    `  ambit status${prefix}`,
    `  ambit logs${prefix} -n <namespace> <pod> [-f]        (logs in ${logDir})`,
    "  ambit ztunnel-config workloads",
    `  ambit down${prefix}            (or Ctrl-C here)`,
    "",
  );
  return `${lines.join("\n")}\n`;
}
