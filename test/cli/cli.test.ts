// The CLI's outputs and exit codes (golden files), and its behaviour on bad input and bad usage.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { assertGolden } from "./golden.js";

const EXAMPLES = [
  "bookinfo",
  "cross-namespace-waypoint",
  "pod-waypoint",
  "l7-on-ztunnel",
  "unbound-service-policy",
  "seed-forms",
];

describe("ambit analyze", () => {
  for (const ex of EXAMPLES) {
    test(`text output for examples/${ex}`, async () => {
      const r = await runCli(["analyze", "-f", `examples/${ex}`]);
      assertGolden(`analyze-${ex}.txt`, `${r.stdout}--- exit ${r.exitCode}\n`);
    });
    test(`json output for examples/${ex}`, async () => {
      const r = await runCli(["analyze", "-f", `examples/${ex}`, "-o", "json"]);
      assertGolden(`analyze-${ex}.json`, r.stdout);
    });
  }
  test("exit 0 and a success line on stderr when nothing is found", async () => {
    const r = await runCli(["analyze", "-f", "examples/bookinfo"]);
    assert.equal(r.exitCode, 0);
    assert.match(r.stderr, /No validation issues found/);
  });
  test("exit 79 for findings in every output format", async () => {
    for (const o of ["text", "json", "yaml"]) {
      assert.equal((await runCli(["analyze", "-f", "examples/pod-waypoint", "-o", o])).exitCode, 79);
    }
  });
  test("yaml output is the same report as json", async () => {
    const { parse } = await import("yaml");
    const y = parse((await runCli(["analyze", "-f", "examples/bookinfo", "-o", "yaml"])).stdout);
    const j = JSON.parse((await runCli(["analyze", "-f", "examples/bookinfo", "-o", "json"])).stdout);
    assert.deepEqual(y, j);
  });
  test("exit 65 for an unreadable path, naming it", async () => {
    const r = await runCli(["analyze", "-f", "does/not/exist"]);
    assert.equal(r.exitCode, 65);
    assert.match(r.stderr, /cannot read does\/not\/exist \(ENOENT\)/);
  });
  test("exit 65 for YAML that does not parse, and the rest is still analyzed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ambit-cli-"));
    writeFileSync(join(dir, "bad.yaml"), "kind: Service\n  metadata: : x\n");
    writeFileSync(
      join(dir, "good.yaml"),
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    istio.io/dataplane-mode: Ambient\n",
    );
    const r = await runCli(["analyze", "-f", dir]);
    assert.equal(r.exitCode, 65);
    assert.match(r.stdout, /Error \[AMB0001\] \(.*bad\.yaml:1\) YAML syntax error/);
    assert.match(r.stdout, /Warning \[AMB0107\] \(Namespace a .*good\.yaml:6\)/);
  });
  test("exit 64 for bad usage", async () => {
    assert.equal((await runCli(["analyze"])).exitCode, 64);
    assert.equal((await runCli(["analyze", "-f", "examples/bookinfo", "-o", "xml"])).exitCode, 64);
    assert.equal((await runCli(["frobnicate"])).exitCode, 64);
    assert.equal((await runCli(["get", "things", "-f", "examples/bookinfo"])).exitCode, 64);
  });
  test("--snapshot: waypoints without status addresses are not ready", async () => {
    const r = await runCli(["analyze", "-f", "examples/bookinfo", "--snapshot", "-o", "json"]);
    const report = JSON.parse(r.stdout);
    assert.equal(report.waypoints[0].ready, false);
    assert.equal(report.services[0].conditions[0].reason, "WaypointIsNotReady");
  });
});

describe("ambit describe, waypoint list, get", () => {
  const cases: Array<[string, string[]]> = [
    ["describe-pod-reviews-v2.txt", ["describe", "pod", "reviews-v2", "-n", "bookinfo", "-f", "examples/bookinfo"]],
    [
      "describe-pod-productpage.txt",
      ["describe", "pod", "productpage-v1", "-n", "bookinfo", "-f", "examples/bookinfo"],
    ],
    [
      "describe-service-productpage.txt",
      ["describe", "service", "productpage", "-n", "bookinfo", "-f", "examples/bookinfo"],
    ],
    [
      "describe-service-frontend.txt",
      ["describe", "service", "frontend", "-n", "web", "-f", "examples/unbound-service-policy"],
    ],
    ["describe-pod-cart.txt", ["describe", "pod", "cart", "-n", "shop", "-f", "examples/pod-waypoint"]],
    ["waypoint-list.txt", ["waypoint", "list", "-n", "bookinfo", "-f", "examples/bookinfo"]],
    [
      "waypoint-list-all.txt",
      ["waypoint", "list", "-A", "-f", "examples/bookinfo", "-f", "examples/cross-namespace-waypoint"],
    ],
    ["get-workloads.txt", ["get", "workloads", "-f", "examples/bookinfo"]],
    ["get-services.txt", ["get", "services", "-f", "examples/bookinfo"]],
    ["get-policies.txt", ["get", "policies", "-f", "examples/bookinfo", "-f", "examples/l7-on-ztunnel"]],
  ];
  for (const [golden, argv] of cases) {
    test(`ambit ${argv.slice(0, 3).join(" ")} (${golden})`, async () => {
      const r = await runCli(argv);
      assert.equal(r.exitCode, 0, r.stderr);
      assertGolden(golden, r.stdout);
    });
  }
  test("waypoint list in a namespace without waypoints", async () => {
    assert.equal((await runCli(["waypoint", "list", "-f", "examples/bookinfo"])).stdout, "No waypoints found.\n");
  });
  test("describe an unknown pod lists the pods that exist", async () => {
    const r = await runCli(["describe", "pod", "nope", "-n", "shop", "-f", "examples/pod-waypoint"]);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stderr, "Error: pod shop/nope not found; pods in shop: cart\n");
  });
});
