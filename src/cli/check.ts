// `ambit check`: "why was this request allowed or denied?" (user-needs.md §2.7). Follows one request from its
// client through the hops it takes, asking each enforcement point with the policy engine the data plane runs,
// or (`--request`) asks one enforcement point directly. Exit 0 allowed, 1 denied, 64 bad usage, 65 bad input.
import { readFileSync } from "node:fs";
import { AmbitError } from "../errors.js";
import type { HttpAttributes } from "../policy/request.js";
import type { JwtInput } from "./check-enforce.js";
import { renderJson, renderText, renderVerdictText, verdictJson } from "./check-output.js";
import { parseSource, parseTarget, type Route, resolveRoute } from "./check-path.js";
import { evaluateRequestFile, readRequestFile } from "./check-request.js";
import { type CheckRequest, simulate } from "./check-simulate.js";
import { ExitCode } from "./exit-codes.js";
import { parseOutputFormat, render } from "./format.js";
import { loadInput } from "./input.js";

export interface CheckFlags {
  file: string[];
  snapshot?: boolean;
  trustDomain?: string;
  output?: string;
  from?: string;
  fromPrincipal?: string;
  to?: string;
  method?: string;
  path?: string;
  host?: string;
  header?: string[];
  jwt?: string;
  jwtFile?: string;
  extAuthz?: string;
  request?: string;
}

export interface CheckResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const HTTP_FLAGS: Array<[keyof CheckFlags, string]> = [
  ["method", "--method"],
  ["path", "--path"],
  ["host", "--host"],
  ["header", "--header"],
];

function usage(message: string): AmbitError {
  return new AmbitError("AMBIT_CLI_USAGE", message);
}

export function parseHeaders(values: readonly string[] | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw usage(`--header "${v}" must be NAME=VALUE`);
    const name = v.slice(0, eq).trim().toLowerCase();
    const value = v.slice(eq + 1);
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return out;
}

function defaultHost(route: Route): string {
  const t = route.target;
  if (t.kind === "service") return `${t.service.hostnames[0] ?? t.service.name}:${t.port}`;
  return `${t.pod.ip ?? t.pod.name}:${t.port}`;
}

function readJwt(flags: CheckFlags): JwtInput {
  if (flags.jwt !== undefined && flags.jwtFile !== undefined) throw usage("pass --jwt or --jwt-file, not both");
  if (flags.jwt !== undefined) return { token: flags.jwt.trim() };
  if (flags.jwtFile === undefined) return null;
  try {
    return { token: readFileSync(flags.jwtFile, "utf8").trim() };
  } catch (e) {
    throw new AmbitError(
      "AMBIT_CLI_UNREADABLE",
      `cannot read ${flags.jwtFile} (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
}

function extAuthzOf(flags: CheckFlags): "ALLOW" | "DENY" | undefined {
  const v = flags.extAuthz?.toUpperCase();
  if (v === undefined || v === "ALLOW" || v === "DENY") return v;
  throw usage(`--ext-authz "${flags.extAuthz}" must be ALLOW or DENY`);
}

function exitOf(allowed: boolean): number {
  return allowed ? ExitCode.ok : ExitCode.denied;
}

export async function runCheck(flags: CheckFlags): Promise<CheckResult> {
  const format = parseOutputFormat(flags.output, ["text", "json"]);
  if (flags.request !== undefined) return runRequestMode(flags, format);
  if (flags.to === undefined)
    throw usage("--to service/NS/NAME:PORT or pod/NS/NAME:PORT is required (or --request FILE)");
  const jwt = readJwt(flags);
  const extAuthz = extAuthzOf(flags);
  const input = loadInput(flags);
  const source = parseSource(input.model, flags.from, flags.fromPrincipal);
  const target = parseTarget(input.model, flags.to);
  const route = resolveRoute(input.model, source, target);
  const http: HttpAttributes = {
    method: (flags.method ?? "GET").toUpperCase(),
    path: flags.path ?? "/",
    host: flags.host ?? defaultHost(route),
    headers: parseHeaders(flags.header),
  };
  const request: CheckRequest = {
    http,
    httpFlags: HTTP_FLAGS.filter(([k]) => flags[k] !== undefined).map(([, name]) => name),
    jwt,
    extAuthz,
  };
  const sim = await simulate(input.model, route, request);
  const stdout = format === "json" ? render(renderJson(sim), "json") : renderText(sim);
  return { stdout, stderr: "", exitCode: exitOf(sim.allowed) };
}

async function runRequestMode(flags: CheckFlags, format: "text" | "json" | "yaml"): Promise<CheckResult> {
  const conflicting = ["from", "fromPrincipal", "to", "method", "path", "host", "header", "jwt", "jwtFile"].filter(
    (k) => flags[k as keyof CheckFlags] !== undefined,
  );
  if (conflicting.length > 0) throw usage(`--request describes the whole request; drop --${conflicting[0]}`);
  if (flags.request === "-" && flags.file.includes("-")) throw usage("--request - and -f - cannot both read stdin");
  const req = readRequestFile(flags.request!);
  const input = loadInput(flags);
  const verdict = await evaluateRequestFile(input.model, req);
  const stdout = format === "json" ? render(verdictJson(verdict), "json") : renderVerdictText(req.enforcement, verdict);
  return { stdout, stderr: "", exitCode: exitOf(verdict.allowed) };
}
