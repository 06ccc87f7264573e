// Shared by status, exec, logs and down: the running mesh's state and pod lookup (a Deployment name picks its
// first pod, as kubectl exec deploy/NAME does).
import { AmbitError } from "../errors.js";
import { isAlive, type MeshState, readState, type StatePod, stateFilePath } from "../local/state-file.js";

export function runningState(prefix: string): MeshState {
  const state = readState(prefix);
  if (!state) {
    throw new AmbitError(
      "AMBIT_CLI_NOT_FOUND",
      `no mesh is running with prefix "${prefix}" (no ${stateFilePath(prefix)}); start one with: ambit up DIR`,
    );
  }
  if (!isAlive(state.pid)) {
    throw new AmbitError(
      "AMBIT_CLI_NOT_FOUND",
      `the mesh with prefix "${prefix}" is not running (process ${state.pid} is gone); clean up with: ambit down`,
    );
  }
  return state;
}

export function findStatePod(state: MeshState, namespace: string, name: string): StatePod {
  const inNs = state.pods.filter((p) => p.namespace === namespace);
  const exact = inNs.find((p) => p.name === name);
  if (exact) return exact;
  const owned = inNs
    .filter((p) => p.name.startsWith(`${name}-`) && /^[a-z0-9]+-[a-z0-9]+$/.test(p.name.slice(name.length + 1)))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (owned[0]) return owned[0];
  const known = inNs.map((p) => p.name).join(", ") || "none";
  throw new AmbitError("AMBIT_CLI_NOT_FOUND", `pod "${name}" not found in namespace "${namespace}" (pods: ${known})`);
}
