// Property: what `ambit check` answers is what the policy engine decides for the same inputs, and the exit code
// follows the verdict (policy.md §1.2 at a waypoint, §1.3 at ztunnel; the CLI adds no semantics of its own).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import type { AuthorizationPolicy, Rule } from "../../src/api/resources.js";
import { runCli } from "../../src/cli/run.js";
import { WaypointAuthz } from "../../src/policy/authz.js";
import { ZtunnelAuthz } from "../../src/policy/ztunnel-authz.js";
import { toZtunnelPolicy } from "../../src/policy/ztunnel-policy.js";

const DIR = mkdtempSync(join(tmpdir(), "ambit-check-prop-"));
after(() => rmSync(DIR, { recursive: true, force: true }));

const BASE = `apiVersion: v1
kind: Namespace
metadata:
  name: app
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: app}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  selector: {app: web}
  ports: [{port: 9080, name: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec:
  containers: [{name: web, image: web}]
`;
writeFileSync(join(DIR, "base.yaml"), BASE);

const PRINCIPALS = ["cluster.local/ns/app/sa/a", "cluster.local/ns/app/sa/b", "cluster.local/ns/other/sa/c"];
const WAYPOINT_ID = "spiffe://cluster.local/ns/app/sa/waypoint";

interface Shape {
  action: "ALLOW" | "DENY";
  attach: "service" | "gateway" | "selector";
  principals: string[];
  methods: string[];
  ports: string[];
}

const shape = fc.record<Shape>({
  action: fc.constantFrom("ALLOW", "DENY"),
  attach: fc.constantFrom("service", "gateway", "selector"),
  principals: fc.subarray(PRINCIPALS),
  methods: fc.subarray(["GET", "POST"]),
  ports: fc.subarray(["9080", "8080"]),
});

const request = fc.record({
  principal: fc.constantFrom(...PRINCIPALS),
  method: fc.constantFrom("GET", "POST", "DELETE"),
});

function policyOf(s: Shape): AuthorizationPolicy {
  const rule: Rule = {};
  if (s.principals.length > 0) rule.from = [{ source: { principals: s.principals } }];
  const operation = {
    ...(s.methods.length > 0 ? { methods: s.methods } : {}),
    ...(s.ports.length > 0 ? { ports: s.ports } : {}),
  };
  if (Object.keys(operation).length > 0) rule.to = [{ operation }];
  const target =
    s.attach === "selector"
      ? { selector: { matchLabels: { app: "web" } } }
      : {
          targetRefs: [
            s.attach === "service"
              ? { kind: "Service", group: "", name: "web" }
              : { kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" },
          ],
        };
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "p", namespace: "app" },
    spec: { ...target, action: s.action, rules: [rule] },
  };
}

function atWaypoint(ap: AuthorizationPolicy | null, principal: string, method: string) {
  return WaypointAuthz.compile(ap ? [ap] : [], { trustDomain: "cluster.local" }).evaluate({
    source: { principal, ip: "10.0.0.1" },
    destination: { ip: "0.0.0.0", port: 9080, service: "app/web" },
    http: { method, path: "/", host: "web.app.svc.cluster.local:9080", headers: {} },
    jwt: null,
  });
}

function atZtunnel(ap: AuthorizationPolicy | null, principal: string) {
  const sent = ap ? toZtunnelPolicy(ap, "istio-system").sent : null;
  return ZtunnelAuthz.build(sent ? [sent] : []).evaluate({
    source: { principal, ip: "10.0.0.1" },
    destination: { ip: "0.0.0.0", port: 9080, namespace: "app", policies: sent ? ["app/p"] : [] },
  });
}

let n = 0;
function writePolicy(ap: AuthorizationPolicy): string {
  const file = join(DIR, `policy-${n++}.yaml`);
  writeFileSync(file, stringify(ap));
  return file;
}

test("the --request verdict equals the engine's decision at the enforcement point the policy attaches to", async () => {
  await fc.assert(
    fc.asyncProperty(shape, request, async (s, r) => {
      const ap = policyOf(s);
      const file = writePolicy(ap);
      const waypoint = s.attach !== "selector";
      const expected = waypoint ? atWaypoint(ap, r.principal, r.method) : atZtunnel(ap, r.principal);
      const req = waypoint
        ? {
            enforcement: "waypoint",
            source: { principal: r.principal, ip: "10.0.0.1" },
            destination: { ip: "0.0.0.0", port: 9080, namespace: "app", service: "web.app.svc.cluster.local" },
            http: { method: r.method, path: "/", host: "web.app.svc.cluster.local:9080", headers: {} },
            jwt: null,
          }
        : {
            enforcement: "ztunnel",
            source: { principal: r.principal, ip: "10.0.0.1" },
            destination: { ip: "0.0.0.0", port: 9080, namespace: "app", labels: { app: "web" } },
            http: null,
            jwt: null,
          };
      const reqFile = `${file}.json`;
      writeFileSync(reqFile, JSON.stringify(req));
      const out = await runCli(["check", "-f", join(DIR, "base.yaml"), "-f", file, "--request", reqFile, "-o", "json"]);
      const got = JSON.parse(out.stdout);
      assert.equal(got.decision, expected.allowed ? "ALLOW" : "DENY");
      assert.equal(got.status, expected.status);
      assert.equal(got.rule, expected.rule);
      assert.equal(out.exitCode, expected.allowed ? 0 : 1);
    }),
    { numRuns: 60 },
  );
});

test("along the path, the verdict is the waypoint's decision, then the destination ztunnel's (waypoint identity)", async () => {
  await fc.assert(
    fc.asyncProperty(shape, request, async (s, r) => {
      const ap = policyOf(s);
      const file = writePolicy(ap);
      const waypoint = atWaypoint(s.attach === "selector" ? null : ap, r.principal, r.method);
      const ztunnel = atZtunnel(s.attach === "selector" ? ap : null, WAYPOINT_ID);
      const allowed = waypoint.allowed && ztunnel.allowed;
      const out = await runCli([
        "check",
        "-f",
        join(DIR, "base.yaml"),
        "-f",
        file,
        "--from-principal",
        r.principal,
        "--to",
        "service/app/web:9080",
        "--method",
        r.method,
        "-o",
        "json",
      ]);
      const got = JSON.parse(out.stdout);
      assert.equal(got.decision, allowed ? "ALLOW" : "DENY");
      assert.equal(got.deniedAt, allowed ? null : waypoint.allowed ? "destination ztunnel" : "waypoint");
      assert.equal(got.status, allowed ? 200 : waypoint.allowed ? null : waypoint.status);
      assert.equal(out.exitCode, allowed ? 0 : 1);
    }),
    { numRuns: 60 },
  );
});
