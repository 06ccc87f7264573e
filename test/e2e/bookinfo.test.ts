// Bookinfo through the CLI as a user runs it (spec/user-needs.md §5.1): `ambit up examples/bookinfo` in the
// foreground, /productpage from the curl pod shows the reviews, then `ambit down` stops it and leaves nothing.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { defaultLogDir } from "../../src/local/local-mesh.js";
import { isAlive, readState } from "../../src/local/state-file.js";
import { leftovers, teardownAll } from "../../src/runtime/index.js";
import { cidrsFor, inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("b");

describe("ambit up examples/bookinfo", { skip: reason }, () => {
  let child: ChildProcess | undefined;
  let output = "";

  before(async () => {
    const { podCidr, serviceCidr } = cidrsFor(2);
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/main.ts",
        "up",
        "examples/bookinfo",
        "--prefix",
        PREFIX,
        "--pod-cidr",
        podCidr,
        "--service-cidr",
        serviceCidr,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    await waitFor("the summary", () => output.includes("Try:"), 90_000).catch((e: Error) =>
      assert.fail(`${e.message}\n${output}`),
    );
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await teardownAll(PREFIX);
    rmSync(defaultLogDir(PREFIX), { recursive: true, force: true });
  });

  it("prints progress and a summary with every pod ready and captured, and a waypoint", () => {
    assert.match(output, /✔ control plane watching .*examples\/bookinfo \(xDS 127\.0\.0\.1:\d+, CA 127\.0\.0\.1:\d+\)/);
    assert.match(output, /✔ 2 nodes, ztunnel on each/);
    assert.match(output, /✔ waypoint bookinfo\/waypoint /);
    const state = readState(PREFIX);
    assert.ok(state);
    assert.ok(state.pods.length >= 7);
    for (const p of state.pods.filter((x) => !x.name.startsWith("waypoint-"))) {
      assert.equal(p.captured, true, `${p.name} captured`);
    }
    assert.equal(state.waypoints.length, 1);
  });

  it("/productpage from the curl pod shows the reviews (through ztunnels and the waypoint)", async () => {
    const state = readState(PREFIX);
    const curl = state?.pods.find((p) => p.name.startsWith("curl-"));
    assert.ok(curl);
    const page = await waitFor("productpage", async () => {
      const r = await inPod(curl.netns, ["curl", "-s", "-m", "10", "http://productpage:9080/productpage"]);
      return r.code === 0 && r.stdout.includes("<title>") ? r.stdout : undefined;
    });
    assert.match(page, /<title>Simple Bookstore App<\/title>/);
    assert.match(page, /Reviewer1/);
  });

  it("ambit status lists the pods; ambit down stops `up` and leaves no netns, link, route or process", async () => {
    const status = await runCli(["status", "--prefix", PREFIX]);
    assert.equal(status.exitCode, 0, status.stderr);
    assert.match(status.stdout, /productpage-v1-\S+\s+\d+\.\d+\.\d+\.\d+\s+node-\d\s+yes\s+yes/);
    const pid = readState(PREFIX)?.pid;
    assert.ok(pid);
    const down = await runCli(["down", "--prefix", PREFIX]);
    assert.equal(down.exitCode, 0, down.stderr);
    assert.match(down.stdout, /nothing left/);
    assert.equal(isAlive(pid), false);
    assert.deepEqual(await leftovers(PREFIX), []);
    assert.equal(readState(PREFIX), undefined);
    const after = await runCli(["status", "--prefix", PREFIX]);
    assert.match(after.stderr, /no mesh is running/);
  });
});
