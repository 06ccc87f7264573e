// Per-container log files (stdout and stderr interleaved, every restart appended, as `kubectl logs` reads
// them) and the reading side `ambit logs` needs: the whole file, its last lines, or a follow that yields new
// text as the container writes it.
import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export function containerLogPath(logDir: string, namespace: string, pod: string, container: string): string {
  return join(logDir, namespace, pod, `${container}.log`);
}

/** The last `n` lines of `text` (a trailing newline does not count as an empty line). */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.length === 0 ? "" : `${lines.slice(-n).join("\n")}\n`;
}

export interface ReadLogOptions {
  /** Only the last this many lines. */
  tail?: number;
}

/** The log's text; empty when the container has not written anything yet. */
export async function readLog(path: string, options: ReadLogOptions = {}): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw e;
  }
  return options.tail === undefined ? text : lastLines(text, options.tail);
}

export interface FollowLogOptions extends ReadLogOptions {
  signal: AbortSignal;
  /** How often to look for new bytes. Default 200 ms. */
  pollMs?: number;
}

/**
 * Yields the log (or its tail) and then every chunk appended to it, until `signal` aborts. Polling keeps it
 * independent of the writer, which is another process holding its own append fd.
 */
export async function* followLog(path: string, options: FollowLogOptions): AsyncGenerator<string> {
  const initial = await readLog(path);
  let offset = Buffer.byteLength(initial);
  const first = options.tail === undefined ? initial : lastLines(initial, options.tail);
  if (first !== "") yield first;
  const pollMs = options.pollMs ?? 200;
  while (!options.signal.aborted) {
    try {
      await sleep(pollMs, undefined, { signal: options.signal });
    } catch {
      return;
    }
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    // A smaller file was truncated or replaced: start over from its beginning.
    if (size < offset) offset = 0;
    if (size === offset) continue;
    const handle = await open(path, "r");
    try {
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      offset += bytesRead;
      if (bytesRead > 0) yield buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  }
}
