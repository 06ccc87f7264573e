// Waypoint decisions per second: compiled engine vs a straightforward interpreter of the same policies.
// Run: npm run bench:policy. Numbers are noisy: other developers share this machine's 2 cores.

import type { AuthorizationPolicy, Rule } from "../src/api/resources.js";
import { WaypointAuthz } from "../src/policy/authz.js";
import type { L7Request } from "../src/policy/request.js";
import { naiveDecide } from "../test/policy/naive.js";

const SIZES = [10, 100, 1_000, 10_000];
const POLICIES_PER_SERVICE = 10;

/** A realistic mix: service-targeted ALLOW/DENY policies with principals, namespaces, paths, methods, headers, claims. */
function makePolicies(n: number): AuthorizationPolicy[] {
  const out: AuthorizationPolicy[] = [];
  const services = Math.max(1, Math.floor(n / POLICIES_PER_SERVICE));
  for (let i = 0; i < n; i++) {
    const svc = `svc-${i % services}`;
    const deny = i % 5 === 4;
    const rules: Rule[] = [
      {
        from: [
          {
            source: {
              principals: [`cluster.local/ns/client-${i % 7}/sa/app-${i % 13}`],
              namespaces: [`client-${i % 7}`],
            },
          },
        ],
        to: [{ operation: { methods: ["GET", "HEAD"], paths: [`/api/v${i % 3}/*`, `/items/${i}`] } }],
      },
      {
        from: [{ source: { requestPrincipals: [`https://issuer-${i % 4}.example/*`] } }],
        to: [{ operation: { methods: ["POST"], paths: [`/orders/${i}*`] } }],
        when: [
          { key: "request.headers[x-tenant]", values: [`tenant-${i % 11}`] },
          { key: "request.auth.claims[groups]", values: [`group-${i % 9}`] },
        ],
      },
    ];
    out.push({
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: `p-${i}`, namespace: "ns1" },
      spec: {
        targetRefs: [{ kind: "Service", group: "", name: svc }],
        action: deny ? "DENY" : "ALLOW",
        rules: deny ? [{ to: [{ operation: { paths: [`/admin/${i}*`] } }] }] : rules,
      },
    });
  }
  // A few waypoint-wide policies every request meets.
  for (let i = 0; i < 3; i++) {
    out.push({
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: `gw-${i}`, namespace: "ns1" },
      spec: {
        targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
        action: "DENY",
        rules: [{ from: [{ source: { ipBlocks: [`192.0.2.${i}/32`] } }] }],
      },
    });
  }
  return out;
}

interface Case {
  name: string;
  method: string;
  path: string;
  allowed: boolean;
}

// Policy p-0 (svc-0) allows GET /api/v0/* from client-0/app-0. A POST to /nowhere shares no method and path with any
// rule; a GET to /api/v9/x shares both with every ALLOW rule's first `to`, so the rule index cannot skip those.
const CASES: Case[] = [
  { name: "allowed", method: "GET", path: "/api/v0/list?page=2", allowed: true },
  { name: "denied", method: "POST", path: "/nowhere", allowed: false },
  { name: "denied, near", method: "GET", path: "/api/v9/list", allowed: false },
];

function request(c: Case): L7Request {
  return {
    source: { principal: "spiffe://cluster.local/ns/client-0/sa/app-0", ip: "10.0.0.1" },
    destination: { ip: "10.96.0.10", port: 8080, service: "ns1/svc-0" },
    http: {
      method: c.method,
      path: c.path,
      host: "svc-0.ns1.svc.cluster.local",
      headers: { "x-tenant": "tenant-3" },
    },
    jwt: { valid: true, claims: { iss: "https://issuer-1.example", sub: "u1", groups: ["group-2"] } },
  };
}

function rate(fn: () => boolean, expect: boolean, ms = 700): number {
  for (let i = 0; i < 2000; i++) if (fn() !== expect) throw new Error("engines disagree with the expected decision");
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() - start < budget) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(12);

console.log("policy decisions/second on one core (waypoint, compiled vs naive interpreter); noisy shared machine");
console.log("unindexed = the compiled engine with its rule index turned off (ruleIndex: false)\n");
console.log("policies  request         compiled/s  unindexed/s      naive/s   ratio");
for (const size of SIZES) {
  const policies = makePolicies(size);
  const engine = WaypointAuthz.compile(policies);
  const unindexed = WaypointAuthz.compile(policies, { ruleIndex: false });
  for (const c of CASES) {
    const q = request(c);
    const compiled = rate(() => engine.evaluate(q).allowed, c.allowed);
    const plain = rate(() => unindexed.evaluate(q).allowed, c.allowed);
    const naive = rate(() => naiveDecide(policies, q), c.allowed, size >= 10_000 ? 1500 : 700);
    console.log(
      `${String(size).padStart(8)}  ${c.name.padEnd(12)} ${fmt(compiled)} ${fmt(plain)} ${fmt(naive)}  ${(compiled / naive).toFixed(1).padStart(6)}x`,
    );
  }
}
console.log("\ngoals: >= 1,000,000/s at 100 policies, >= 200,000/s at 10,000 policies (compiled), allowed and denied");
