// Runs the iproute2/iptables tools; failures become AmbitErrors that quote the command and its stderr.
import { spawn } from "node:child_process";
import { AmbitError } from "../../errors.js";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  input?: string;
  /** Resolve with the exit code instead of throwing when the command fails. */
  allowFailure?: boolean;
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") {
        reject(
          new AmbitError("AMBIT_CAPTURE_TOOL_MISSING", `${command} is not installed or not on PATH`, { cause: e }),
        );
      } else {
        reject(new AmbitError("AMBIT_CAPTURE_COMMAND_FAILED", `${command}: ${e.message}`, { cause: e }));
      }
    });
    child.on("close", (code) => {
      const result = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? -1 };
      if (result.code === 0 || options.allowFailure) {
        resolve(result);
        return;
      }
      const detail = result.stderr.trim() || `exit code ${result.code}`;
      reject(new AmbitError("AMBIT_CAPTURE_COMMAND_FAILED", `${command} ${args.join(" ")}: ${detail}`));
    });
    // A tool that exits without reading stdin makes the write fail with EPIPE; "close" reports the real outcome.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}
