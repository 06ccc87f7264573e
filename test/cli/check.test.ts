// `ambit check` along a request's path on bookinfo: hops, the identity each hop sees, the policies it evaluates,
// the verdict and the exit code (policy.md §0, §1.2, §1.3; data-plane.md §3.1, §3.3).
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runCli } from "../../src/cli/run.js";
import { assertGolden } from "./golden.js";

const B = "examples/bookinfo";

/** bookinfo before `istioctl waypoint apply`: no waypoint Gateway, no use-waypoint label on the namespace. */
function bookinfoWithoutWaypoint(): string {
  const dir = mkdtempSync(join(tmpdir(), "ambit-check-"));
  for (const f of ["bookinfo.yaml", "curl.yaml", "policies.yaml"]) copyFileSync(join(B, f), join(dir, f));
  const ns = readFileSync(join(B, "namespace.yaml"), "utf8");
  writeFileSync(join(dir, "namespace.yaml"), ns.replace(/^ +istio\.io\/use-waypoint: waypoint\n/m, ""));
  return dir;
}

const NO_WAYPOINT = bookinfoWithoutWaypoint();
const EXTRA = mkdtempSync(join(tmpdir(), "ambit-check-extra-"));
after(() => {
  rmSync(NO_WAYPOINT, { recursive: true, force: true });
  rmSync(EXTRA, { recursive: true, force: true });
});

function extra(name: string, yaml: string): string {
  const file = join(EXTRA, name);
  writeFileSync(file, yaml);
  return file;
}

async function check(args: string[]) {
  const r = await runCli(["check", ...args]);
  return {
    ...r,
    stdout: r.stdout.replaceAll(NO_WAYPOINT, "<bookinfo-without-waypoint>").replaceAll(EXTRA, "<extra>"),
  };
}

async function golden(name: string, args: string[], exitCode: number) {
  const r = await check(args);
  assert.equal(r.exitCode, exitCode, r.stderr);
  assertGolden(name, r.stdout);
  return r;
}

const CURL = ["--from", "pod/bookinfo/curl"];
const PRODUCTPAGE = ["--to", "service/bookinfo/productpage:9080", "--path", "/productpage"];

describe("ambit check on bookinfo with its waypoint", () => {
  // policy.md §1.2: productpage-viewer allows GET from curl at the waypoint.
  test("GET from curl to productpage is allowed at the waypoint by productpage-viewer rule 0", async () => {
    await golden("check-curl-get-productpage.txt", ["-f", B, ...CURL, ...PRODUCTPAGE], 0);
  });

  // policy.md §1.2 item 4: ALLOW policies apply and none matches → 403, and the destination is never reached.
  test("POST from curl is denied 403 at the waypoint; the destination ztunnel is not reached", async () => {
    const r = await golden(
      "check-curl-post-productpage.txt",
      ["-f", B, ...CURL, ...PRODUCTPAGE, "--method", "POST"],
      1,
    );
    assert.match(r.stdout, /Verdict: DENIED at waypoint bookinfo\/waypoint — HTTP 403/);
    const j = await golden(
      "check-curl-post-productpage.json",
      ["-f", B, ...CURL, ...PRODUCTPAGE, "--method", "POST", "-o", "json"],
      1,
    );
    const out = JSON.parse(j.stdout);
    assert.equal(out.decision, "DENY");
    assert.equal(out.status, 403);
    assert.equal(out.deniedAt, "waypoint");
    assert.deepEqual(out.unmatchedAllowPolicies, ["bookinfo/productpage-viewer"]);
    assert.equal(out.hops[2].reached, false);
  });

  // policy.md §0: behind a waypoint the destination ztunnel sees the waypoint's identity (sa = Gateway name).
  test("productpage → reviews is allowed at the destination ztunnel because the waypoint identity is allowed", async () => {
    const r = await golden(
      "check-productpage-reviews.txt",
      [
        "-f",
        B,
        "--from",
        "pod/bookinfo/productpage-v1",
        "--to",
        "service/bookinfo/reviews:9080",
        "--path",
        "/reviews/0",
      ],
      0,
    );
    assert.match(
      r.stdout,
      /destination ztunnel .* sees identity spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/waypoint/,
    );
  });

  // data-plane.md §3.1 step 7: pod-addressed traffic skips a service waypoint; ztunnel sees the client (§1.3).
  test("ratings → a reviews pod's IP skips the waypoint and is reset at the destination ztunnel by reviews-callers", async () => {
    const args = ["-f", B, "--from", "pod/bookinfo/ratings-v1", "--to", "pod/bookinfo/reviews-v2:9080"];
    const r = await golden("check-ratings-reviews-pod.txt", args, 1);
    assert.match(r.stdout, /it skips waypoint bookinfo\/waypoint of service bookinfo\/reviews/);
    const j = await golden("check-ratings-reviews-pod.json", [...args, "-o", "json"], 1);
    const out = JSON.parse(j.stdout);
    assert.equal(out.status, null);
    assert.equal(out.deniedAt, "destination ztunnel");
    assert.deepEqual(out.unmatchedAllowPolicies, ["bookinfo/reviews-callers"]);
    assert.equal(out.hops[1].identity, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings");
  });

  // data-plane.md §1.2 "Identity format": identities live in the mesh's trust domain; principals written for
  // cluster.local do not match another one (Istio needs trustDomainAliases for that).
  test("--trust-domain puts identities in that domain, so cluster.local principals stop matching", async () => {
    const args = ["-f", B, "--from", "pod/bookinfo/productpage-v1", "--to", "service/bookinfo/reviews:9080"];
    const r = await check([...args, "--trust-domain", "example.org", "-o", "json"]);
    assert.equal(r.exitCode, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.hops[0].identity, "spiffe://example.org/ns/bookinfo/sa/bookinfo-productpage");
    assert.equal(out.deniedAt, "destination ztunnel");
    assert.deepEqual(out.unmatchedAllowPolicies, ["bookinfo/reviews-callers"]);
    const bad = await check([...args, "--trust-domain", "Not A Domain"]);
    assert.equal(bad.exitCode, 64);
    assert.match(bad.stderr, /--trust-domain: "Not A Domain" is not a valid trust domain/);
  });

  test("--from-principal stands for a captured client with that identity", async () => {
    const r = await check([
      "-f",
      B,
      "--from-principal",
      "cluster.local/ns/istio-system/sa/istio-ingressgateway",
      ...PRODUCTPAGE,
      "-o",
      "json",
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.hops[1].identity, "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway");
    assert.equal(out.hops[1].policy, "bookinfo/productpage-viewer");
    assert.equal(out.hops[1].rule, 0);
  });

  test("HTTP headers are matched at the waypoint; credentials never reach the output", async () => {
    const r = await check(["-f", B, ...CURL, ...PRODUCTPAGE, "--header", "Authorization=Basic c2VjcmV0", "-o", "json"]);
    assert.equal(r.exitCode, 0);
    assert.equal(JSON.parse(r.stdout).request.http.headers.authorization, "<redacted>");
    assert.doesNotMatch(r.stdout, /c2VjcmV0/);
  });
});

describe("ambit check on bookinfo before the waypoint is added", () => {
  // user-needs.md §0 item 1(b): a Service-targeted policy with no waypoint is enforced nowhere.
  test("POST from curl is allowed, and check says productpage-viewer is enforced nowhere", async () => {
    const r = await golden(
      "check-no-waypoint-curl-post.txt",
      ["-f", NO_WAYPOINT, ...CURL, ...PRODUCTPAGE, "--method", "POST"],
      0,
    );
    assert.match(r.stdout, /productpage-viewer .* it is enforced nowhere for it/);
    assert.match(r.stdout, /--method, --path given, but no waypoint is on the path/);
  });

  test("ratings → reviews service is reset at the destination ztunnel, which sees ratings' own identity", async () => {
    await golden(
      "check-no-waypoint-ratings-reviews.txt",
      ["-f", NO_WAYPOINT, "--from", "pod/bookinfo/ratings-v1", "--to", "service/bookinfo/reviews:9080"],
      1,
    );
  });

  // policy.md §2.2: "ztunnel: RequestAuthentication is not applied (L7 only)".
  test("a JWT without a waypoint is never validated, and check says so", async () => {
    const r = await check(["-f", NO_WAYPOINT, ...CURL, "--to", "service/bookinfo/productpage:9080", "--jwt", "a.b.c"]);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /a JWT was given, but no waypoint is on the path: .* never validated/);
  });
});

describe("ambit check: capture", () => {
  const legacy = extra(
    "legacy.yaml",
    `apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: legacy, labels: {app: client}}
spec:
  containers: [{name: c, image: curl}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: legacy, labels: {app: db}}
spec:
  containers: [{name: db, image: db}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-nobody, namespace: legacy}
spec:
  selector: {matchLabels: {app: db}}
`,
  );
  const strict = extra(
    "strict.yaml",
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: bookinfo}
spec:
  mtls: {mode: STRICT}
`,
  );

  const legacyClient = ["-f", B, "-f", legacy, "--from", "pod/legacy/client"];

  // data-plane.md §3.3: an uncaptured client is plaintext; STRICT PeerAuthentication refuses it (policy.md §3).
  test("an uncaptured client goes past the waypoint in plaintext and STRICT refuses it", async () => {
    const r = await golden(
      "check-uncaptured-strict.txt",
      ["-f", B, "-f", strict, "-f", legacy, "--from", "pod/legacy/client", "--to", "service/bookinfo/productpage:9080"],
      1,
    );
    assert.match(r.stdout, /sees no identity \(plaintext\)/);
  });

  test("an uncaptured client fails a principal-based ALLOW at the destination ztunnel", async () => {
    const r = await check([...legacyClient, "--to", "pod/bookinfo/reviews-v1:9080"]);
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /reviews-callers .*: rule 0: from\[0\]\.source\.principals did not match/);
  });

  test("the same uncaptured client is allowed without STRICT when no ztunnel policy applies", async () => {
    const r = await check([...legacyClient, "--to", "service/bookinfo/details:9080"]);
    assert.equal(r.exitCode, 0, r.stdout);
  });

  // policy.md §0: a destination without ztunnel enforces no L4 policy, even one that allows nothing.
  test("a destination that is not captured has no destination ztunnel, so its selector policy does nothing", async () => {
    const r = await check(["-f", B, "-f", legacy, ...CURL, "--to", "pod/legacy/db:5432"]);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /destination pod legacy\/db:5432 — not captured .*: no ztunnel, no L4 policy/);
  });
});

describe("ambit check: other topologies", () => {
  const shared = extra(
    "shared.yaml",
    `apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: orders
  namespace: app
  labels: {istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra}
spec:
  selector: {app: orders}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: app}
spec:
  selector: {app: nothing}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: orders-1, namespace: app, labels: {app: orders}}
spec: {containers: [{name: o, image: o}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app}
spec: {containers: [{name: c, image: c}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext
  namespace: app
  labels: {istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: infra}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: http, protocol: HTTP}]
  resolution: DNS
`,
  );
  const client = ["-f", shared, "--from", "pod/app/client"];

  // control-plane.md §4: use-waypoint-namespace names the waypoint's namespace; the waypoint's identity follows it.
  test("a cross-namespace waypoint: the label pair is named, and ztunnel sees infra's waypoint identity", async () => {
    const r = await check([...client, "--to", "service/app/orders"]);
    assert.equal(r.exitCode, 0);
    assert.match(
      r.stdout,
      /waypoint infra\/shared — service app\/orders uses it \(Service label istio\.io\/use-waypoint=shared, istio\.io\/use-waypoint-namespace=infra; waypoint-for: service\)/,
    );
    assert.match(r.stdout, /pod app\/orders-1:8080 — sees identity spiffe:\/\/cluster\.local\/ns\/infra\/sa\/shared/);
  });

  test("a ServiceEntry without endpoints is reached outside the mesh: no destination ztunnel", async () => {
    const r = await check([...client, "--to", "service/app/ext:443", "-o", "json"]);
    assert.equal(r.exitCode, 0);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.hops.at(-1), { hop: "external", hosts: ["api.example.com"], port: 443 });
  });

  // data-plane.md §3.1 step 7: pod-addressed traffic uses the pod's own waypoint (waypoint-for: workload), where
  // only the policies attached to the Gateway apply.
  test("pod-addressed traffic goes through the pod's workload waypoint and its Gateway-attached DENY", async () => {
    const pw = extra(
      "pod-waypoint.yaml",
      `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, labels: {istio.io/waypoint-for: workload}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Pod
metadata: {name: cart, namespace: shop, labels: {app: cart, istio.io/use-waypoint: waypoint}}
spec: {containers: [{name: cart, image: cart}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {containers: [{name: c, image: c}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
`,
    );
    const r = await check(["-f", pw, "--from", "pod/shop/client", "--to", "pod/shop/cart:8080", "--method", "DELETE"]);
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stdout,
      /waypoint shop\/waypoint — pod shop\/cart uses it \(pod label istio\.io\/use-waypoint=waypoint; waypoint-for: workload\)/,
    );
    assert.match(
      r.stdout,
      /Verdict: DENIED at waypoint shop\/waypoint — HTTP 403, AuthorizationPolicy shop\/no-delete rule 0 matched/,
    );
    const get = await check(["-f", pw, "--from", "pod/shop/client", "--to", "pod/shop/cart:8080"]);
    assert.equal(get.exitCode, 0);
  });

  // data-plane.md §3.1 step 5: a Service VIP with no endpoints → NoHealthyUpstream, the connection is closed.
  test("a Service without endpoints fails at routing", async () => {
    const r = await check([...client, "--to", "service/app/empty:80"]);
    assert.equal(r.exitCode, 1);
    assert.match(
      r.stdout,
      /Verdict: DENIED at routing — connection reset \(no HTTP status\), the service has no endpoints/,
    );
  });
});

describe("ambit check: usage and input errors", () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ["no --to", ["-f", B, ...CURL], 64, /--to .* is required/],
    [
      "both sources",
      ["-f", B, ...CURL, "--from-principal", "cluster.local/ns/a/sa/b", ...PRODUCTPAGE],
      64,
      /exactly one/,
    ],
    ["no source", ["-f", B, ...PRODUCTPAGE], 64, /exactly one/],
    ["bad principal", ["-f", B, "--from-principal", "bob", ...PRODUCTPAGE], 64, /not a SPIFFE identity/],
    ["bad --to", ["-f", B, ...CURL, "--to", "productpage"], 64, /must be service\/NAMESPACE\/NAME:PORT/],
    ["unknown pod", ["-f", B, "--from", "pod/bookinfo/nope", ...PRODUCTPAGE], 64, /pod bookinfo\/nope not found/],
    ["unknown port", ["-f", B, ...CURL, "--to", "service/bookinfo/productpage:80"], 64, /has ports 9080/],
    ["pod without port", ["-f", B, ...CURL, "--to", "pod/bookinfo/details-v1"], 64, /give the pod's port/],
    ["yaml output", ["-f", B, ...CURL, ...PRODUCTPAGE, "-o", "yaml"], 64, /unknown output format/],
    ["bad header", ["-f", B, ...CURL, ...PRODUCTPAGE, "--header", "novalue"], 64, /NAME=VALUE/],
    ["bad --ext-authz", ["-f", B, ...CURL, ...PRODUCTPAGE, "--ext-authz", "maybe"], 64, /ALLOW or DENY/],
    ["unreadable -f", ["-f", "does/not/exist", ...CURL, ...PRODUCTPAGE], 65, /cannot read does\/not\/exist/],
    ["unreadable --jwt-file", ["-f", B, ...CURL, ...PRODUCTPAGE, "--jwt-file", "no/such/token"], 65, /cannot read/],
  ];
  for (const [what, args, code, message] of cases) {
    test(`${what}: exit ${code}`, async () => {
      const r = await check(args);
      assert.equal(r.exitCode, code, r.stdout);
      assert.match(r.stderr, message);
    });
  }
});
