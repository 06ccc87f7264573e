// The CLI as a function (argv in; stdout, stderr and exit code out), so tests drive it without a process.
import { Command, CommanderError } from "commander";
import { isAmbitError } from "../errors.js";
import { runAnalyze } from "./analyze.js";
import { type CheckFlags, runCheck } from "./check.js";
import { describePod, describeService, findPod, findService } from "./describe.js";
import { registerDown } from "./down.js";
import { registerExec } from "./exec.js";
import { ExitCode } from "./exit-codes.js";
import { parseOutputFormat } from "./format.js";
import { type GetKind, runGet } from "./get.js";
import { loadInput } from "./input.js";
import { registerLogs } from "./logs.js";
import { readRunningMesh } from "./running-mesh.js";
import { registerStatus } from "./status.js";
import { registerUp } from "./up.js";
import { waypointList } from "./waypoint-list.js";
import { waypointStatus } from "./waypoint-status.js";
import { runZtunnelConfig, type ZtunnelConfigFlags } from "./ztunnel-config.js";

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

interface InputFlags {
  file: string[];
  snapshot?: boolean;
  trustDomain?: string;
  output?: string;
  namespace?: string;
  allNamespaces?: boolean;
}

const ERROR_EXIT: Record<string, number> = {
  AMBIT_CLI_USAGE: ExitCode.usage,
  AMBIT_CLI_UNREADABLE: ExitCode.badInput,
  AMBIT_CLI_NOT_FOUND: 1,
};

export async function runCli(argv: ReadonlyArray<string>): Promise<CliResult> {
  const out: CliResult = { stdout: "", stderr: "", exitCode: ExitCode.ok };
  const program = buildProgram(out);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      out.exitCode = e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    } else if (isAmbitError(e)) {
      out.stderr += `Error: ${e.message}\n`;
      out.exitCode = ERROR_EXIT[e.code] ?? 1;
    } else {
      throw e;
    }
  }
  return out;
}

function withInput(cmd: Command): Command {
  return cmd
    .requiredOption("-f, --file <path...>", "manifest files or folders (recursively); - reads standard input")
    .option("--snapshot", "the input is a dump of a live cluster: status fields are the truth", false)
    .option("--trust-domain <td>", "MeshConfig trustDomain of workload identities (default cluster.local)");
}

function buildProgram(out: CliResult): Command {
  const program = new Command("ambit")
    .description("Ambit: an ambient-mode service mesh. Istio's ambient APIs, explained.")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        out.stdout += s;
      },
      writeErr: (s) => {
        out.stderr += s;
      },
    })
    .showHelpAfterError();

  withInput(program.command("analyze"))
    .description("find problems in ambient configuration, as istioctl analyze does")
    .option("-o, --output <format>", "text (log), json or yaml", "text")
    .action((flags: InputFlags) => {
      const format = parseOutputFormat(flags.output);
      const result = runAnalyze(loadInput(flags), format);
      out.stdout += result.stdout;
      out.stderr += result.stderr;
      out.exitCode = result.exitCode;
    });

  withInput(program.command("check"))
    .description("follow one request through ztunnels and waypoints: hops, identities, policies, verdict")
    .option("--from <pod>", "client pod: pod/NAMESPACE/NAME (a Deployment name picks its first pod)")
    .option("--from-principal <id>", "client identity instead of a pod: cluster.local/ns/NS/sa/SA")
    .option("--to <target>", "service/NAMESPACE/NAME:PORT or pod/NAMESPACE/NAME:PORT")
    .option("--method <method>", "HTTP method (default GET)")
    .option("--path <path>", "HTTP path (default /)")
    .option("--host <host>", "HTTP host (default the service hostname:port)")
    .option("--header <name=value>", "HTTP header (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--jwt <token>", "a JWT the client sends (Authorization: Bearer)")
    .option("--jwt-file <path>", "read the JWT from a file")
    .option("--ext-authz <answer>", "what ext_authz providers answer for CUSTOM policies: ALLOW or DENY")
    .option("--request <file>", "evaluate one enforcement point from a JSON request file (- reads stdin)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (flags: CheckFlags) => {
      const result = await runCheck(flags);
      out.stdout += result.stdout;
      out.stderr += result.stderr;
      out.exitCode = result.exitCode;
    });

  const describe = program
    .command("describe")
    .description("explain what the mesh decided for one object, and why")
    .exitOverride();
  withInput(describe.command("pod <name>"))
    .description("capture, identity, waypoints and policies for a pod (a Deployment name picks its first pod)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action((name: string, flags: InputFlags) => {
      const input = loadInput(flags);
      out.stdout += describePod(
        input.model,
        findPod(input.model, flags.namespace ?? "default", name),
        input.diagnostics(),
      );
    });
  withInput(describe.command("service <name>"))
    .alias("svc")
    .description("waypoint binding, endpoints, policies and conditions for a Service or ServiceEntry")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action((name: string, flags: InputFlags) => {
      const input = loadInput(flags);
      out.stdout += describeService(
        input.model,
        findService(input.model, flags.namespace ?? "default", name),
        input.diagnostics(),
      );
    });

  const waypoint = program.command("waypoint").description("waypoint commands, as istioctl waypoint").exitOverride();
  withInput(waypoint.command("list"))
    .description("list waypoints")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("-A, --all-namespaces", "all namespaces", false)
    .action((flags: InputFlags) => {
      const input = loadInput(flags);
      out.stdout += waypointList(input.model, {
        namespace: flags.namespace ?? "default",
        allNamespaces: flags.allNamespaces === true,
      });
    });

  waypoint
    .command("status")
    .description("show each waypoint's Programmed status in the running mesh (ambit up)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("-A, --all-namespaces", "all namespaces", false)
    .option("--prefix <prefix>", "the running mesh's prefix (ambit up --prefix)", "ambit")
    .action(async (flags: { namespace: string; allNamespaces: boolean; prefix: string }) => {
      out.stdout += await waypointStatus(readRunningMesh(flags.prefix), {
        namespace: flags.namespace,
        allNamespaces: flags.allNamespaces,
      });
    });

  program
    .command("ztunnel-config <kind> [target]")
    .alias("zc")
    .description(
      "what the running ztunnels hold: workloads|services|policies|certificates|connections|all; target = node or pod",
    )
    .option("-o, --output <format>", "short, json or yaml", "short")
    .option("--node <node>", "read the ztunnel on this node")
    .option("-f, --file <dump>", "read a saved config_dump JSON instead of the running mesh")
    .option("--workload-namespace <ns>", "only workloads (and connections) in this namespace")
    .option("--workload-node <node>", "only workloads on this node")
    .option("--address <ip>", "only the workload with this IP")
    .option("--service-namespace <ns>", "only services in this namespace")
    .option("--policy-namespace <ns>", "only policies in this namespace")
    .option("--direction <dir>", "connections: inbound or outbound only")
    .option("--raw", "connections: IPs instead of names", false)
    .option("--with-headers", "all: a header before each table", false)
    .option("--prefix <prefix>", "the running mesh's prefix (ambit up --prefix)", "ambit")
    .action(async (kind: string, target: string | undefined, flags: ZtunnelConfigFlags) => {
      out.stdout += await runZtunnelConfig(kind, target, flags);
    });

  withInput(program.command("get <kind>"))
    .description("list workloads, services or policies as the control plane derives them")
    .option("-n, --namespace <ns>", "only this namespace")
    .option("-o, --output <format>", "text, json or yaml", "text")
    .action((kind: string, flags: InputFlags) => {
      const normalised = (
        {
          workload: "workloads",
          w: "workloads",
          workloads: "workloads",
          service: "services",
          svc: "services",
          s: "services",
          services: "services",
          policy: "policies",
          policies: "policies",
          p: "policies",
          pol: "policies",
        } as Record<string, GetKind>
      )[kind];
      if (!normalised) {
        out.stderr += `Error: unknown kind "${kind}": use workloads, services or policies\n`;
        out.exitCode = ExitCode.usage;
        return;
      }
      const input = loadInput(flags);
      out.stdout += runGet(input.model, normalised, {
        namespace: flags.namespace,
        format: parseOutputFormat(flags.output),
      });
    });

  // The local mesh (issue 6): up, exec and logs stream to the terminal; status and down print through `out`.
  const setExit = (code: number) => {
    out.exitCode = code;
  };
  const print = (text: string) => {
    out.stdout += text;
  };
  registerUp(program, setExit);
  registerDown(program, print);
  registerStatus(program, print);
  registerExec(program, setExit);
  registerLogs(program, setExit);

  return program;
}
