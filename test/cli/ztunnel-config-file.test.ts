// `ambit ztunnel-config -f DUMP`: istioctl ztunnel-config's tables and JSON over a saved config_dump.
// Spec: user-needs.md §2.2 (columns, sorting, aliases, flags, JSON field names); tabwriter rules at the top of §2.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { assertGolden } from "./golden.js";

const DUMP = join(import.meta.dirname, "golden", "zc-dump-bookinfo.json");

async function zc(...args: string[]) {
  const r = await runCli(["ztunnel-config", ...args, "-f", DUMP]);
  assert.equal(r.stderr, "");
  assert.equal(r.exitCode, 0);
  return r.stdout;
}

describe("ambit ztunnel-config -f (saved dump)", () => {
  // §2.2 workload: NAMESPACE POD NAME ADDRESS NODE WAYPOINT PROTOCOL, sorted by ns.name then node; hostname when
  // no IP; waypoint named by its Service (by hostname or by VIP), None without one.
  it("workloads: istioctl columns, sorted by namespace.name, waypoint service name or None", async () => {
    assertGolden("zc-file-workloads.txt", await zc("workloads"));
  });

  // §2.2 aliases: workload/w, service/s/svc, policy/p/pol, certificate/certs/cert, connections/cons; `zc`.
  it("every istioctl alias names the same table", async () => {
    const groups = [
      ["workloads", "workload", "w"],
      ["services", "service", "s", "svc"],
      ["policies", "policy", "p", "pol"],
      ["certificates", "certificate", "certs", "cert"],
      ["connections", "cons"],
    ];
    for (const [first, ...aliases] of groups) {
      const expected = await zc(first ?? "");
      for (const alias of aliases) {
        const r = await runCli(["zc", alias, "-f", DUMP]);
        assert.equal(r.stdout, expected, `zc ${alias}`);
      }
    }
  });

  // §2.2 --workload-namespace, --address, --workload-node filter the workload table.
  it("workload filters: namespace, address, node", async () => {
    const rows = (out: string) => out.trimEnd().split("\n").slice(1);
    assert.deepEqual(
      rows(await zc("w", "--workload-namespace", "default")).map((r) => r.split(/\s+/)[1]),
      ["external-db", "legacy-db-0"],
    );
    assert.deepEqual(
      rows(await zc("w", "--address", "10.44.1.13")).map((r) => r.split(/\s+/)[1]),
      ["reviews-v2-6c5f8b7d9-m4n8p"],
    );
    assert.equal(rows(await zc("w", "--workload-node", "node-a")).length, 2);
  });

  // §2.2 service: NAMESPACE SERVICE NAME SERVICE VIP WAYPOINT ENDPOINTS (healthy/total; 0/0 with none).
  it("services: VIP without network, waypoint, healthy/total endpoints", async () => {
    assertGolden("zc-file-services.txt", await zc("services"));
    const only = await zc("svc", "--service-namespace", "default");
    assert.deepEqual(
      only
        .trimEnd()
        .split("\n")
        .map((l) => l.split(/\s+/)[1]),
      ["SERVICE", "headless", "kubernetes"],
    );
  });

  // §2.2 policy: NAMESPACE POLICY NAME ACTION SCOPE with Allow/Deny and Global/Namespace/WorkloadSelector.
  it("policies: action and scope words, sorted by namespace and name", async () => {
    assertGolden("zc-file-policies.txt", await zc("policies"));
    assert.equal((await zc("p", "--policy-namespace", "istio-system")).trimEnd().split("\n").length, 2);
  });

  // §2.2 policy JSON: rules[][][] of matches with ztunnel's capitalised string matches and CIDR strings.
  it("policies -o json: Istio's rules[][][] shape", async () => {
    const out = await zc("policies", "-o", "json");
    assertGolden("zc-file-policies.json", out);
    const viewer = (JSON.parse(out) as Array<{ name: string; rules: unknown }>).find(
      (p) => p.name === "reviews-viewer",
    );
    assert.deepEqual(viewer?.rules, [
      [
        [
          {
            principals: [{ Exact: "cluster.local/ns/bookinfo/sa/bookinfo-productpage" }],
            notNamespaces: [{ Prefix: "test-" }],
          },
        ],
        [{ destinationPorts: [9080] }],
      ],
    ]);
  });

  // §2.2 certificate: CERTIFICATE NAME TYPE STATUS VALID CERT SERIAL NUMBER NOT AFTER NOT BEFORE, padding 5; Leaf,
  // Root (last of a chain without rootCerts), NA rows for Initializing/Unavailable; expired leaf is not valid.
  it("certificates: Leaf/Root rows, hex serials, NA rows, padding 5", async () => {
    assertGolden("zc-file-certificates.txt", await zc("certificates"));
  });

  // §2.2 connections: WORKLOAD DIRECTION LOCAL REMOTE REMOTE TARGET PROTOCOL; names instead of IPs unless --raw.
  it("connections: names for known IPs, inbound target as received", async () => {
    assertGolden("zc-file-connections.txt", await zc("connections"));
    assertGolden("zc-file-connections-raw-outbound.txt", await zc("cons", "--raw", "--direction", "outbound"));
    const inbound = await zc("cons", "--direction", "inbound");
    assert.ok(!inbound.includes("Outbound"));
    assert.equal(inbound.trimEnd().split("\n").length, 3);
  });

  // §2.2 connections JSON: workloadState entries with info {name, namespace, ...}, filtered by namespace.
  it("connections -o json carries each pod's info", async () => {
    const states = JSON.parse(await zc("cons", "-o", "json", "--workload-namespace", "bookinfo")) as Array<{
      info: { name: string };
    }>;
    assert.deepEqual(
      states.map((s) => s.info.name),
      ["productpage-v1-7d4b8c9f6-kq2xz", "reviews-v1-5b9c7d8f4-abcde"],
    );
  });

  // §2.2 all / --with-headers: the five tables, each after a blank line (and its header line).
  it("all --with-headers: five sections in istioctl's order", async () => {
    assertGolden("zc-file-all-headers.txt", await zc("all", "--with-headers"));
    const plain = await zc("all");
    assert.ok(plain.startsWith("\nNAMESPACE POD NAME"));
    assert.ok(!plain.includes("------"));
  });

  it("-o yaml and -o json print the same workloads", async () => {
    const { parse } = await import("yaml");
    assert.deepEqual(parse(await zc("w", "-o", "yaml")), JSON.parse(await zc("w", "-o", "json")));
  });

  it("all -o json prints the dump as read", async () => {
    const { readFileSync } = await import("node:fs");
    assert.deepEqual(JSON.parse(await zc("all", "-o", "json")), JSON.parse(readFileSync(DUMP, "utf8")));
  });

  it("usage errors: unknown kind, unknown direction, unreadable file", async () => {
    const kind = await runCli(["zc", "routes", "-f", DUMP]);
    assert.equal(kind.exitCode, 64);
    assert.match(kind.stderr, /unknown kind "routes"/);
    const dir = await runCli(["zc", "cons", "--direction", "sideways", "-f", DUMP]);
    assert.equal(dir.exitCode, 64);
    const missing = await runCli(["zc", "w", "-f", "/nonexistent/dump.json"]);
    assert.equal(missing.exitCode, 65);
    assert.match(missing.stderr, /cannot read \/nonexistent\/dump\.json/);
    const notDump = await runCli(["zc", "w", "-f", join(import.meta.dirname, "golden", "get-workloads.txt")]);
    assert.equal(notDump.exitCode, 65);
    assert.match(notDump.stderr, /is not JSON/);
  });
});
