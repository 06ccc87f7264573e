// Back-off, readiness-probe and log helpers (issue 6: restart with exponential back-off, 10 s cap;
// readinessProbe.httpGet; logs for `ambit logs`).
import assert from "node:assert/strict";
import { once } from "node:events";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { followLog, lastLines, readLog } from "../../src/runtime/logs.js";
import { httpProbeFor, probeOnce, ReadinessProber } from "../../src/runtime/readiness.js";
import { backoffDelay, DEFAULT_BACKOFF } from "../../src/runtime/supervisor.js";

test("back-off doubles from 1 s and is capped at 10 s by default", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(DEFAULT_BACKOFF, n)),
    [1000, 2000, 4000, 8000, 10_000, 10_000],
  );
});

test("an httpGet probe resolves a named port and applies Kubernetes' thresholds", () => {
  const probe = httpProbeFor(
    {
      name: "c",
      ports: [{ name: "http", containerPort: 9080 }],
      readinessProbe: { httpGet: { path: "/health", port: "http" } },
    },
    "10.88.0.10",
  );
  assert.deepEqual(probe, {
    host: "10.88.0.10",
    port: 9080,
    path: "/health",
    periodMs: 1000,
    timeoutMs: 1000,
    initialDelayMs: 0,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(httpProbeFor({ name: "c" }, "10.88.0.10"), undefined);
});

test("2xx and 3xx pass a probe, 5xx and refused connections fail it; failureThreshold flips it back", async () => {
  let status = 200;
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const probe = {
    host: "127.0.0.1",
    port,
    path: "/",
    periodMs: 20,
    timeoutMs: 500,
    initialDelayMs: 0,
    successThreshold: 1,
    failureThreshold: 2,
  };
  try {
    assert.equal(await probeOnce(probe), true);
    status = 302;
    assert.equal(await probeOnce(probe), true);
    status = 503;
    assert.equal(await probeOnce(probe), false);
    status = 200;
    const prober = new ReadinessProber(probe);
    prober.start();
    await once(prober, "change");
    assert.equal(prober.ready, true);
    status = 500;
    const [ready] = await once(prober, "change");
    assert.equal(ready, false);
    prober.stop();
  } finally {
    server.close();
  }
  assert.equal(await probeOnce({ ...probe, port }), false);
});

test("logs: tail counts lines, a missing log is empty, follow yields appended text", async () => {
  assert.equal(lastLines("a\nb\nc\n", 2), "b\nc\n");
  assert.equal(lastLines("a\nb", 5), "a\nb\n");
  const dir = await mkdtemp(join(tmpdir(), "ambit-logs-"));
  try {
    const path = join(dir, "c.log");
    assert.equal(await readLog(path), "");
    await writeFile(path, "one\ntwo\n");
    assert.equal(await readLog(path, { tail: 1 }), "two\n");
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const chunk of followLog(path, { signal: controller.signal, pollMs: 10, tail: 1 })) {
      seen.push(chunk);
      if (seen.length === 1) await appendFile(path, "three\n");
      else controller.abort();
    }
    assert.deepEqual(seen, ["two\n", "three\n"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
