// Proxy logs as files next to the pods' logs (<logDir>/<namespace>/<pod>/<container>.log), so `ambit logs` reads
// ztunnels and waypoints the way it reads apps.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { containerLogPath } from "../runtime/index.js";

export interface FileSink {
  write(line: string): void;
  close(): Promise<void>;
}

export function fileSink(logDir: string, namespace: string, pod: string, container: string): FileSink {
  const path = containerLogPath(logDir, namespace, pod, container);
  mkdirSync(dirname(path), { recursive: true });
  const stream: WriteStream = createWriteStream(path, { flags: "a" });
  return {
    write: (line) => {
      stream.write(line.endsWith("\n") ? line : `${line}\n`);
    },
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  };
}
