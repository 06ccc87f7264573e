// nginx as an HTTP reverse proxy in front of an origin, for scale: one worker, upstream keep-alive, no access log,
// loopback only. Installing nginx is not the benchmark's job: `findNginx()` answers undefined when it is absent.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { childrenOf, cpuMs, rssMb } from "./proc.js";

/** The nginx executable on PATH, if any. */
export function findNginx(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const bin = join(dir, "nginx");
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

export interface NginxProxy {
  port: number;
  /** CPU ms of the master and its worker together. */
  cpuMs(): number;
  /** RSS of the master and its worker together. */
  rssMb(): number;
  stop(): Promise<void>;
}

function config(dir: string, port: number, origin: { host: string; port: number }): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream origin {
    server ${origin.host}:${origin.port};
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

async function accepting(port: number, deadline: number, proc: ChildProcess): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with code ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on 127.0.0.1:${port} within 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `bin` as a child (no daemon) listening on 127.0.0.1:`port`, proxying to `origin`; resolves once it accepts. */
export async function startNginx(
  bin: string,
  port: number,
  origin: { host: string; port: number },
): Promise<NginxProxy> {
  const dir = mkdtempSync(join(tmpdir(), "ambit-bench-nginx-"));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, config(dir, port, origin));
  // In the foreground so it is our child; -e keeps nginx away from the system's log directory during startup.
  const proc = spawn(bin, ["-p", dir, "-c", conf, "-e", join(dir, "error.log"), "-g", "daemon off;"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const pid = proc.pid!;
  const exited = once(proc, "exit");
  try {
    await accepting(port, Date.now() + 5000, proc);
  } catch (e) {
    proc.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const pids = () => [pid, ...childrenOf(pid)];
  const sum = (f: (p: number) => number) => pids().reduce((t, p) => t + f(p), 0);
  return {
    port,
    cpuMs: () => sum(cpuMs),
    rssMb: () => sum(rssMb),
    async stop() {
      // SIGTERM: nginx's fast shutdown; the worker exits with its master.
      proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
