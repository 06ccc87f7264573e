// checkCapturePrerequisites: what `ambit up` prints before it tries to capture anything.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCapturePrerequisites, findExecutable } from "../../src/dataplane/capture/probe.js";
import { captureSkipReason } from "./support.js";

const skip = await captureSkipReason();

test(
  "on a prepared machine nothing is missing, even after trying the rules in a throwaway netns",
  { skip },
  async () => {
    assert.deepEqual(await checkCapturePrerequisites({ deep: true }), []);
  },
);

test(
  "a tool installed outside PATH is reported with the directory to add",
  { skip: !findExecutable("ip") },
  async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const missing = await checkCapturePrerequisites({ deep: false });
      const ip = missing.find((m) => m.id === "ip");
      const dir = findExecutable("ip")!.slice(0, -"/ip".length);
      assert.deepEqual(ip, { id: "ip", message: `ip is at ${dir}/ip but not on PATH: add ${dir} to PATH` });
    } finally {
      process.env.PATH = saved;
    }
  },
);

test("findExecutable finds nothing for a tool that is nowhere", () => {
  assert.equal(findExecutable("ambit-no-such-tool"), undefined);
});
