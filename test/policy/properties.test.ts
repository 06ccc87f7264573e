// Properties of the decision procedure (policy.md §1.2, §1.4, §7.1, §7.4) over generated policies and requests.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { AuthorizationPolicy, Rule } from "../../src/api/resources.js";
import { WaypointAuthz } from "../../src/policy/authz.js";
import type { L7Request } from "../../src/policy/request.js";
import { ap, req } from "./helpers.js";

const ns = fc.constantFrom("a", "b", "c");
const path = fc.constantFrom("/", "/x", "/x/y", "/admin", "/y");
const method = fc.constantFrom("GET", "POST", "PUT");

const rule: fc.Arbitrary<Rule> = fc.record(
  {
    from: fc.array(fc.record({ source: fc.record({ namespaces: fc.array(ns, { minLength: 1, maxLength: 2 }) }) }), {
      minLength: 1,
      maxLength: 2,
    }),
    to: fc.array(
      fc.record({
        operation: fc.oneof(
          fc.record({ paths: fc.array(fc.constantFrom("/x*", "/admin", "*y", "/"), { minLength: 1, maxLength: 2 }) }),
          fc.record({ methods: fc.array(method, { minLength: 1, maxLength: 2 }) }),
          fc.record({ notMethods: fc.array(method, { minLength: 1, maxLength: 2 }) }),
        ),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    when: fc.array(
      fc.record({
        key: fc.constant("request.headers[x-a]"),
        notValues: fc.array(fc.constantFrom("1", "2"), { minLength: 1, maxLength: 1 }),
      }),
      { maxLength: 1 },
    ),
  },
  { requiredKeys: [] },
);

const policy = (action: "ALLOW" | "DENY") =>
  fc
    .tuple(fc.integer({ min: 0, max: 1_000_000 }), fc.array(rule, { maxLength: 3 }))
    .map(([n, rules]) =>
      ap(
        `${action.toLowerCase()}-${n}`,
        action === "DENY" && rules.length === 0 ? { action, rules: [{}] } : { action, rules },
      ),
    );

const request: fc.Arbitrary<L7Request> = fc
  .record({ ns: fc.option(ns), path, method, header: fc.option(fc.constantFrom("1", "2")) })
  .map((r) =>
    req({
      principal: r.ns === null ? null : `spiffe://cluster.local/ns/${r.ns}/sa/x`,
      http: { path: r.path, method: r.method, headers: r.header === null ? {} : { "x-a": r.header } },
    }),
  );

const decide = (ps: AuthorizationPolicy[], r: L7Request) => WaypointAuthz.compile(ps).evaluate(r).allowed;

test("a matching DENY always beats any ALLOW (policy.md §1.2)", () => {
  fc.assert(
    fc.property(fc.array(policy("ALLOW"), { maxLength: 4 }), policy("DENY"), request, (allows, deny, r) => {
      const denyMatches = WaypointAuthz.compile([deny]).evaluate(r).allowed === false;
      fc.pre(denyMatches);
      assert.equal(decide([...allows, deny], r), false);
    }),
  );
});

test("adding an ALLOW policy never turns a DENY decision into ALLOW when a DENY matched", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(policy("ALLOW"), policy("DENY")), { maxLength: 5 }),
      policy("ALLOW"),
      request,
      (ps, extra, r) => {
        const before = WaypointAuthz.compile(ps).evaluate(r);
        if (before.allowed || before.policy === null) return; // only explicit DENY decisions are stable
        assert.equal(decide([...ps, extra], r), false);
      },
    ),
  );
});

test("adding an ALLOW policy never flips an allowed request to denied unless it is the first ALLOW", () => {
  fc.assert(
    fc.property(fc.array(policy("ALLOW"), { minLength: 1, maxLength: 4 }), policy("ALLOW"), request, (ps, extra, r) => {
      if (decide(ps, r)) assert.equal(decide([...ps, extra], r), true);
    }),
  );
});

test("notX matches when the attribute is absent (policy.md §7.4)", () => {
  fc.assert(
    fc.property(
      fc.array(ns, { minLength: 1, maxLength: 3 }),
      fc.array(fc.constantFrom("1", "2", "x"), { minLength: 1, maxLength: 3 }),
      (nss, vals) => {
        const r = req({ principal: null, claims: null });
        assert.equal(
          decide([ap("p", { rules: [{ from: [{ source: { notNamespaces: nss, notPrincipals: nss } }] }] })], r),
          true,
        );
        assert.equal(decide([ap("p", { rules: [{ from: [{ source: { notRequestPrincipals: vals } }] }] })], r), true);
        assert.equal(
          decide([ap("p", { rules: [{ when: [{ key: "request.headers[x-missing]", notValues: vals }] }] })], r),
          true,
        );
        assert.equal(
          decide([ap("p", { rules: [{ when: [{ key: "request.auth.claims[c]", notValues: vals }] }] })], r),
          true,
        );
      },
    ),
  );
});

test("a DENY that can never match never changes a decision", () => {
  const never = ap("never", { action: "DENY", rules: [{ to: [{ operation: { methods: ["NEVER-USED"] } }] }] });
  fc.assert(
    fc.property(fc.array(fc.oneof(policy("ALLOW"), policy("DENY")), { maxLength: 5 }), request, (ps, r) => {
      assert.equal(decide([...ps, never], r), decide(ps, r));
    }),
  );
});
