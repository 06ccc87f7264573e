// nginx as the benchmarks' yardstick, one worker, no access log, loopback only: an HTTP reverse proxy with upstream
// keep-alive (data-plane bench), and TCP stream proxies, plain and TLS-terminating, with half-close (HBONE bench).
// Installing nginx is not the benchmark's job: `findNginx()` and `findStreamModule()` answer undefined when absent
// (Debian: apt-get install nginx-light libnginx-mod-stream).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { childrenOf, cpuMs, rssMb } from "./proc.js";

export interface Origin {
  host: string;
  port: number;
}

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

/**
 * How this nginx gets its stream module: built in (`static`), a dynamic module file to load, or undefined when
 * it has none (Debian builds it dynamic and ships it in libnginx-mod-stream).
 */
export function findStreamModule(bin: string): "static" | string | undefined {
  // `nginx -V` prints its configure arguments on stderr.
  const build = spawnSync(bin, ["-V"], { encoding: "utf8" }).stderr ?? "";
  if (/--with-stream(\s|$)/.test(build)) return "static";
  if (!build.includes("--with-stream=dynamic")) return undefined;
  const modulesPath = /--modules-path=(\S+)/.exec(build)?.[1] ?? "/usr/lib/nginx/modules";
  const file = join(modulesPath, "ngx_stream_module.so");
  return existsSync(file) ? file : undefined;
}

/** A running nginx (master and worker). */
export interface NginxProcess {
  /** CPU ms of the master and its worker together. */
  cpuMs(): number;
  /** RSS of the master and its worker together. */
  rssMb(): number;
  stop(): Promise<void>;
}

export interface NginxProxy extends NginxProcess {
  port: number;
}

export interface NginxStreamProxy extends NginxProcess {
  /** Plain TCP in, plain TCP to the origin. */
  plainPort: number;
  /** TLS 1.3 (mutual, AES-GCM suites as HBONE's) in, plain TCP to the origin: the work of one HBONE server hop. */
  tlsPort: number;
}

/** PEM material for the TLS listener: its certificate and key, and the roots client certificates must chain to. */
export interface StreamTls {
  cert: string;
  key: string;
  ca: string;
}

const preamble = (dir: string, modules = "") => `${modules}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }`;

function httpConfig(dir: string, port: number, origin: Origin): string {
  return `${preamble(dir)}
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

function streamConfig(dir: string, module: string, ports: [number, number], origin: Origin): string {
  const load = module === "static" ? "" : `load_module ${module};\n`;
  // proxy_half_close: a client's FIN reaches the origin while the reply still flows back, as HBONE does.
  return `${preamble(dir, load)}
stream {
  upstream origin { server ${origin.host}:${origin.port}; }
  proxy_half_close on;
  tcp_nodelay on;
  server {
    listen 127.0.0.1:${ports[0]};
    proxy_pass origin;
  }
  server {
    listen 127.0.0.1:${ports[1]} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    ssl_client_certificate ${dir}/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256;
    ssl_session_tickets off;
    proxy_pass origin;
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

/** Starts `bin` in the foreground as our child with a config written by `conf`; resolves once every port accepts. */
async function launch(
  bin: string,
  ports: number[],
  conf: (dir: string) => string,
  files: Record<string, string> = {},
): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), "ambit-bench-nginx-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  const confFile = join(dir, "nginx.conf");
  writeFileSync(confFile, conf(dir));
  // -e keeps nginx away from the system's log directory during startup.
  const proc = spawn(bin, ["-p", dir, "-c", confFile, "-e", join(dir, "error.log"), "-g", "daemon off;"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const pid = proc.pid!;
  const exited = once(proc, "exit");
  try {
    for (const port of ports) await accepting(port, Date.now() + 5000, proc);
  } catch (e) {
    proc.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const pids = () => [pid, ...childrenOf(pid)];
  const sum = (f: (p: number) => number) => pids().reduce((t, p) => t + f(p), 0);
  return {
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

/** An HTTP reverse proxy on 127.0.0.1:`port` in front of `origin`, with upstream keep-alive. */
export async function startNginx(bin: string, port: number, origin: Origin): Promise<NginxProxy> {
  const proc = await launch(bin, [port], (dir) => httpConfig(dir, port, origin));
  return { ...proc, port };
}

/** Two TCP stream proxies in front of `origin`: plain on `plainPort`, TLS-terminating on `tlsPort`. */
export async function startNginxStream(
  bin: string,
  module: string,
  ports: { plainPort: number; tlsPort: number },
  origin: Origin,
  tls: StreamTls,
): Promise<NginxStreamProxy> {
  const proc = await launch(
    bin,
    [ports.plainPort, ports.tlsPort],
    (dir) => streamConfig(dir, module, [ports.plainPort, ports.tlsPort], origin),
    { "cert.pem": tls.cert, "key.pem": tls.key, "ca.pem": tls.ca },
  );
  return { ...proc, ...ports };
}
