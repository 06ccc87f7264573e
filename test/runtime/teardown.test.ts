// Cleanup by prefix (issue 6: "remove all of it on exit", and `down` after a crash): whatever a run left,
// including processes still running inside its pod netns, goes, and the host's routes are as before.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, test } from "node:test";
import { run } from "../../src/dataplane/capture/exec.js";
import { isAmbitError } from "../../src/errors.js";
import { netnsPids } from "../../src/runtime/netns-extra.js";
import { ContainerSupervisor } from "../../src/runtime/supervisor.js";
import { ClusterNetwork, leftovers, teardownAll } from "../../src/runtime/topology.js";
import { runtimeSkipReason, testCidrs, testPrefix, until } from "./support.js";

const skip = await runtimeSkipReason();

async function hostRoutes(): Promise<string> {
  return (await run("ip", ["-4", "route", "show"])).stdout;
}

describe("teardown", { skip, timeout: 30_000 }, () => {
  const prefix = testPrefix("t");
  after(async () => {
    await teardownAll(prefix);
    assert.deepEqual(await leftovers(prefix), []);
  });

  test("teardownAll removes a crashed run's netns, processes, host link and routes, and is idempotent", async () => {
    const before = await hostRoutes();
    const network = await ClusterNetwork.create({ prefix, ...testCidrs(1) });
    const pod = await network.createPodNetwork("default", "orphan");
    // A process the crashed run never stopped: it would keep the netns alive after `ip netns del`.
    const orphan = spawn("ip", ["netns", "exec", pod.netns, "sleep", "600"], { stdio: "ignore", detached: true });
    orphan.unref();
    await until("orphan in the netns", async () => ((await netnsPids(pod.netns)).length > 0 ? true : undefined));
    const left = await leftovers(prefix);
    assert.ok(left.includes(`netns ${pod.netns}`) && left.includes(`link ${prefix}-h`), left.join(", "));
    assert.equal(left.filter((l) => l.startsWith("route ")).length, 2);

    // A fresh process knows only the prefix, as `ambit down` would.
    await teardownAll(prefix);
    assert.deepEqual(await leftovers(prefix), []);
    assert.equal(await hostRoutes(), before);
    await until("orphan killed", () => (orphan.exitCode !== null || orphan.signalCode !== null ? true : undefined));
    await teardownAll(prefix);
  });

  test("create refuses CIDRs that overlap a host route, before touching anything", async () => {
    const route = (await run("ip", ["-4", "-j", "route", "show"])).stdout;
    const hostNet = (JSON.parse(route) as { dst: string }[]).find((r) => r.dst !== "default" && r.dst.includes("/"));
    if (!hostNet) return;
    await assert.rejects(
      ClusterNetwork.create({
        prefix,
        podCidr: hostNet.dst.replace(/\/\d+$/, "/16").replace(/^(\d+\.\d+)\.\d+\.\d+/, "$1.0.0"),
      }),
      (e) => isAmbitError(e, "AMBIT_RUNTIME_CIDR_CLASH"),
    );
    assert.deepEqual(await leftovers(prefix), []);
  });

  test("stop() SIGTERMs the container's process group and SIGKILLs what ignores it after the grace period", async () => {
    const network = await ClusterNetwork.create({ prefix, ...testCidrs(1) });
    const pod = await network.createPodNetwork("default", "stubborn");
    const supervisor = new ContainerSupervisor({
      name: "main",
      netns: pod.netns,
      // The shell ignores SIGTERM and has a child: both must be gone after stop().
      argv: ["sh", "-c", "trap '' TERM; sleep 600 & wait"],
      env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin" },
      cwd: "/",
      logFile: "/dev/null",
      gracePeriodMs: 300,
    });
    supervisor.start();
    await until("two processes", async () => ((await netnsPids(pod.netns)).length >= 2 ? true : undefined));
    const started = Date.now();
    await supervisor.stop();
    assert.ok(Date.now() - started >= 250, "waited for the grace period");
    assert.equal(supervisor.status().lastExit?.signal, "SIGKILL");
    assert.equal(supervisor.status().phase, "Terminated");
    await until("netns empty", async () => ((await netnsPids(pod.netns)).length === 0 ? true : undefined));
    await network.destroy();
  });
});
