// /run/ambit/<prefix>/state.json: what a running `ambit up` tells the other commands (status, exec, down,
// ztunnel-config, waypoint status). The shape is a contract; writes are atomic (temp file + rename).
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface StateNode {
  name: string;
  ztunnelAdmin: string;
  metrics: string;
  readiness: string;
}

export interface StateWaypoint {
  namespace: string;
  name: string;
  pod: string;
  ip: string;
  node: string;
  metrics: string;
  readiness: string;
}

export interface StatePod {
  namespace: string;
  name: string;
  netns: string;
  ip: string;
  node: string;
  captured: boolean;
  ready: boolean;
}

export interface MeshState {
  prefix: string;
  pid: number;
  startedAt: string;
  folder: string;
  controlPlane: { xds: string; ca: string };
  nodes: StateNode[];
  waypoints: StateWaypoint[];
  pods: StatePod[];
}

/** The folder of state files: `$AMBIT_RUN_DIR`, default /run/ambit (read at import, as the commands do). */
export const STATE_ROOT = process.env.AMBIT_RUN_DIR || "/run/ambit";

export function stateFilePath(prefix: string, root = STATE_ROOT): string {
  return join(root, prefix, "state.json");
}

export function writeState(state: MeshState, root = STATE_ROOT): void {
  const path = stateFilePath(state.prefix, root);
  mkdirSync(join(root, state.prefix), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/** The state of a run, or undefined when none is recorded. */
export function readState(prefix: string, root = STATE_ROOT): MeshState | undefined {
  try {
    return JSON.parse(readFileSync(stateFilePath(prefix, root), "utf8")) as MeshState;
  } catch {
    return undefined;
  }
}

export function removeState(prefix: string, root = STATE_ROOT): void {
  rmSync(join(root, prefix), { recursive: true, force: true });
}

/** Whether the process that wrote the state still runs. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
