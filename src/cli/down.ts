// `ambit down`: stops a running `ambit up` (SIGTERM, then wait), then removes whatever the prefix left (also
// after a crash) and checks that nothing is left: no netns, link, route, /etc/netns folder or process.
import type { Command } from "commander";
import { AmbitError } from "../errors.js";
import { isAlive, readState, removeState } from "../local/state-file.js";
import { leftovers, teardownAll } from "../runtime/index.js";

export function registerDown(program: Command, print: (s: string) => void): void {
  program
    .command("down")
    .description("stop the running mesh and remove everything it created")
    .option("--prefix <p>", "the run's prefix", "ambit")
    .option("--timeout <ms>", "how long to wait for `ambit up` to stop", "30000")
    .action(async (flags: { prefix: string; timeout: string }) => {
      print(await down(flags.prefix, Number.parseInt(flags.timeout, 10) || 30_000));
    });
}

export async function down(prefix: string, timeoutMs = 30_000): Promise<string> {
  const lines: string[] = [];
  const state = readState(prefix);
  if (state && isAlive(state.pid)) {
    process.kill(state.pid, "SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (isAlive(state.pid)) {
      process.kill(state.pid, "SIGKILL");
      lines.push(`✖ ambit up (pid ${state.pid}) did not stop within ${timeoutMs} ms: killed`);
    } else {
      lines.push(`✔ stopped ambit up (pid ${state.pid})`);
    }
  } else {
    lines.push(state ? `  ambit up (pid ${state.pid}) was not running` : `  no running mesh with prefix "${prefix}"`);
  }
  await teardownAll(prefix);
  removeState(prefix);
  const left = await leftovers(prefix);
  if (left.length > 0) throw new AmbitError("AMBIT_LOCAL_LEFTOVERS", `still present after cleanup: ${left.join(", ")}`);
  lines.push(`✔ nothing left with prefix "${prefix}" (no netns, link, route or process)`);
  return `${lines.join("\n")}\n`;
}
