// Shared test helpers: building and loading the AssemblyScript plugins, log capture, and a real HTTP client for
// proxy_http_call.

import { readFile } from "node:fs/promises";
import http from "node:http";
import { buildExamples, buildTestPlugins } from "../../examples/wasm/build.js";
import type { LogLevelName } from "../../src/dataplane/wasm/abi.js";
import type { HeaderMap } from "../../src/dataplane/wasm/header-map.js";
import { headerValue } from "../../src/dataplane/wasm/header-map.js";
import type { HostCalls, HttpCallResponse } from "../../src/dataplane/wasm/types.js";

let built: Promise<Record<string, string>> | undefined;

/** Builds the examples and the test plugins once per process (the build itself is cached on disk). */
export function buildAllPlugins(): Promise<Record<string, string>> {
  built ??= Promise.all([buildExamples(), buildTestPlugins(["probe", "abi020"])]).then(([a, b]) => ({ ...a, ...b }));
  return built;
}

export async function pluginBytes(name: string): Promise<Uint8Array> {
  const paths = await buildAllPlugins();
  const path = paths[name];
  if (path === undefined) throw new Error(`no plugin ${name}`);
  return new Uint8Array(await readFile(path));
}

export interface LogLine {
  level: LogLevelName;
  message: string;
}

export function captureLog(): { lines: LogLine[]; sink: (level: LogLevelName, message: string) => void } {
  const lines: LogLine[] = [];
  return { lines, sink: (level, message) => lines.push({ level, message }) };
}

export function request(path = "/", extra: HeaderMap = [], authority = "svc.ns"): HeaderMap {
  return [[":method", "GET"], [":path", path], [":authority", authority], [":scheme", "http"], ...extra];
}

/** A realistic browser-like request header set (used by the memory test and bench/wasm.ts). */
export function realisticRequest(authority = "svc.ns"): HeaderMap {
  return request(
    "/productpage?u=normal",
    [
      [
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      ],
      ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
      ["accept-language", "en-US,en;q=0.9"],
      ["accept-encoding", "gzip, deflate, br"],
      ["cookie", "session=0123456789abcdef0123456789abcdef; theme=dark"],
      ["x-request-id", "1f2e3d4c-5b6a-7980-1a2b-3c4d5e6f7a8b"],
      ["x-forwarded-for", "10.0.0.1"],
      ["x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"],
      ["x-b3-spanid", "e457b5a2e4d86bd1"],
    ],
    authority,
  );
}

/** proxy_http_call over plain HTTP to `upstream` = "host:port", the way a waypoint would reach a cluster. */
export const nodeHttpCalls: HostCalls = {
  httpCall(upstream, headers, body, _trailers, timeoutMs) {
    return new Promise<HttpCallResponse>((resolve, reject) => {
      const [host, port] = upstream.split(":");
      const plain: Record<string, string> = { host: headerValue(headers, ":authority") ?? upstream };
      for (const [k, v] of headers) if (!k.startsWith(":")) plain[k] = v;
      const req = http.request(
        {
          host,
          port: Number(port),
          method: headerValue(headers, ":method"),
          path: headerValue(headers, ":path"),
          headers: plain,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const out: HeaderMap = [[":status", String(res.statusCode)]];
            for (let i = 0; i < res.rawHeaders.length; i += 2)
              out.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
            resolve({ headers: out, body: Buffer.concat(chunks), trailers: [] });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(body);
    });
  },
};

export function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      resolve(typeof addr === "object" && addr !== null ? addr.port : 0);
    });
  });
}

export function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
