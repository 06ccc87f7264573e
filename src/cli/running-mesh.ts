// The mesh `ambit up` is running: its state file (`$AMBIT_RUN_DIR/<prefix>/state.json`, default /run/ambit) and
// the admin endpoints it lists. Operator commands read the live data plane through here, as istioctl reads pods.

import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { AmbitError } from "../errors.js";
import { isAlive, type MeshState, type StateNode, type StatePod, type StateWaypoint } from "../local/state-file.js";

export type RunningMesh = MeshState;
export type RunningNode = StateNode;
export type RunningPod = StatePod;
export type RunningWaypoint = StateWaypoint;

export const DEFAULT_PREFIX = "ambit";

export function runDir(): string {
  return process.env.AMBIT_RUN_DIR || "/run/ambit";
}

export function stateFilePath(prefix = DEFAULT_PREFIX): string {
  return join(runDir(), prefix, "state.json");
}

function noMesh(detail: string): AmbitError {
  return new AmbitError("AMBIT_CLI_NO_MESH", `no running mesh (run ambit up DIR): ${detail}`);
}

/** Reads the state file; a missing file, a bad one, or one whose `ambit up` process has gone means no mesh. */
export function readRunningMesh(prefix = DEFAULT_PREFIX): RunningMesh {
  const path = stateFilePath(prefix);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw noMesh(code === "ENOENT" ? `${path} does not exist` : `cannot read ${path} (${code ?? String(e)})`);
  }
  let mesh: RunningMesh;
  try {
    mesh = JSON.parse(text) as RunningMesh;
  } catch (e) {
    throw noMesh(`${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof mesh !== "object" || mesh === null || !Array.isArray(mesh.nodes)) {
    throw noMesh(`${path} has no "nodes" list`);
  }
  if (typeof mesh.pid === "number" && !isAlive(mesh.pid)) {
    throw noMesh(`${path} is stale: process ${mesh.pid} has exited`);
  }
  return { ...mesh, waypoints: mesh.waypoints ?? [], pods: mesh.pods ?? [] };
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One GET over a fresh connection (no pooled socket outlives the command). */
export function httpGet(hostPort: string, path: string, timeoutMs = 3_000): Promise<HttpAnswer> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: "GET", agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  const port = Number(hostPort.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new AmbitError("AMBIT_CLI_BAD_STATE", `bad address "${hostPort}" in the state file: want host:port`);
  }
  return { host, port };
}

/** The raw `/config_dump` of one node's ztunnel. */
export async function fetchConfigDump(node: RunningNode): Promise<string> {
  let answer: HttpAnswer;
  try {
    answer = await httpGet(node.ztunnelAdmin, "/config_dump");
  } catch (e) {
    throw new AmbitError(
      "AMBIT_CLI_UNREACHABLE",
      `ztunnel on node ${node.name} is unreachable at ${node.ztunnelAdmin}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (answer.status !== 200) {
    throw new AmbitError(
      "AMBIT_CLI_UNREACHABLE",
      `ztunnel on node ${node.name} answered ${answer.status} for http://${node.ztunnelAdmin}/config_dump`,
    );
  }
  return answer.body;
}

export interface Readiness {
  ready: boolean;
  /** Why not, in words (empty when ready). */
  detail: string;
}

/** `GET /healthz/ready`: 200 is ready; anything else, or no answer, is not. */
export async function probeReadiness(hostPort: string): Promise<Readiness> {
  try {
    const a = await httpGet(hostPort, "/healthz/ready");
    return a.status === 200
      ? { ready: true, detail: "" }
      : { ready: false, detail: `http://${hostPort}/healthz/ready answered ${a.status}` };
  } catch (e) {
    return { ready: false, detail: `http://${hostPort}/healthz/ready unreachable: ${(e as Error).message}` };
  }
}
