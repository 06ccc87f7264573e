// Admission rules (policy.md §1.1, §2.1, §3): each returns a FieldError at the exact dotted path.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  validateAuthorizationPolicy as v,
  validatePeerAuthentication,
  validateRequestAuthentication,
} from "../../src/policy/validate.js";

const paths = (spec: unknown) => v(spec).map((e) => e.path);

describe("AuthorizationPolicy validation (policy.md §1.1)", () => {
  test("valid policies produce no errors", () => {
    assert.deepEqual(v({}), []);
    assert.deepEqual(v({ action: "DENY", rules: [{}] }), []);
    assert.deepEqual(
      v({
        rules: [
          {
            from: [{ source: { principals: ["cluster.local/ns/a/sa/b"], ipBlocks: ["10.0.0.0/8", "fd00::1"] } }],
            to: [{ operation: { ports: ["8080"], paths: ["/a/{*}/b/{**}"] } }],
            when: [{ key: "request.auth.claims[a][b]", values: ["x"] }],
          },
        ],
      }),
      [],
    );
  });
  test("unknown action is rejected", () => assert.deepEqual(paths({ action: "BOGUS", rules: [{}] }), ["spec.action"]));
  test("provider only with CUSTOM; CUSTOM needs a provider", () => {
    assert.deepEqual(paths({ action: "ALLOW", provider: { name: "x" }, rules: [{}] }), ["spec.provider"]);
    assert.deepEqual(paths({ action: "CUSTOM", rules: [{}] }), ["spec.provider.name"]);
  });
  test("DENY and CUSTOM without rules are rejected, ALLOW without rules is fine", () => {
    assert.match(v({ action: "DENY" })[0]!.message, /add an empty rule/);
    assert.deepEqual(paths({ action: "CUSTOM", provider: { name: "x" } }), ["spec.rules"]);
    assert.deepEqual(v({ action: "ALLOW" }), []);
  });
  test("present but empty from/to are rejected; source/operation must be non-empty", () => {
    assert.deepEqual(paths({ rules: [{ from: [] }] }), ["spec.rules.0.from"]);
    assert.deepEqual(paths({ rules: [{ to: [] }] }), ["spec.rules.0.to"]);
    assert.deepEqual(paths({ rules: [{ from: [{}] }] }), ["spec.rules.0.from.0.source"]);
    assert.deepEqual(paths({ rules: [{ to: [{ operation: {} }] }] }), ["spec.rules.0.to.0.operation"]);
  });
  test("empty strings are rejected at their index", () => {
    assert.deepEqual(paths({ rules: [{ from: [{ source: { principals: ["a", ""] } }] }] }), [
      "spec.rules.0.from.0.source.principals.1",
    ]);
  });
  test("when: key required, values or notValues required, unknown keys rejected", () => {
    assert.deepEqual(paths({ rules: [{ when: [{ values: ["a"] }] }] }), ["spec.rules.0.when.0.key"]);
    assert.deepEqual(paths({ rules: [{ when: [{ key: "source.ip" }] }] }), ["spec.rules.0.when.0"]);
    assert.deepEqual(paths({ rules: [{ when: [{ key: "request.bogus", values: ["a"] }] }] }), [
      "spec.rules.0.when.0.key",
    ]);
    assert.deepEqual(paths({ rules: [{ when: [{ key: "request.headers[]", values: ["a"] }] }] }), [
      "spec.rules.0.when.0.key",
    ]);
    assert.deepEqual(paths({ rules: [{ when: [{ key: "destination.port", values: ["http"] }] }] }), [
      "spec.rules.0.when.0.values.0",
    ]);
  });
  test("serviceAccounts: not with principals/namespaces, no wildcard, at most 16, ns/sa or sa", () => {
    assert.deepEqual(paths({ rules: [{ from: [{ source: { serviceAccounts: ["a"], principals: ["x"] } }] }] }), [
      "spec.rules.0.from.0.source.serviceAccounts",
    ]);
    assert.deepEqual(paths({ rules: [{ from: [{ source: { serviceAccounts: ["a*"] } }] }] }), [
      "spec.rules.0.from.0.source.serviceAccounts.0",
    ]);
    assert.deepEqual(paths({ rules: [{ from: [{ source: { serviceAccounts: ["a/b/c"] } }] }] }), [
      "spec.rules.0.from.0.source.serviceAccounts.0",
    ]);
    const many = Array.from({ length: 17 }, (_, i) => `sa${i}`);
    assert.deepEqual(paths({ rules: [{ from: [{ source: { serviceAccounts: many } }] }] }), [
      "spec.rules.0.from.0.source.serviceAccounts",
    ]);
  });
  test("trustDomains: one * at the start or end, no /", () => {
    for (const bad of ["a*b", "*a*", "a/b"]) {
      assert.deepEqual(
        paths({ rules: [{ from: [{ source: { trustDomains: [bad] } }] }] }),
        ["spec.rules.0.from.0.source.trustDomains.0"],
        bad,
      );
    }
    assert.deepEqual(v({ rules: [{ from: [{ source: { trustDomains: ["*.local", "td*"] } }] }] }), []);
  });
  test("ports are decimal 0-65535; IP fields take an IP or CIDR, no wildcard", () => {
    assert.deepEqual(paths({ rules: [{ to: [{ operation: { ports: ["0", "65535", "65536", "8*"] } }] }] }), [
      "spec.rules.0.to.0.operation.ports.2",
      "spec.rules.0.to.0.operation.ports.3",
    ]);
    assert.deepEqual(paths({ rules: [{ from: [{ source: { ipBlocks: ["10.0.0.*", "10.0.0.0/33", "::1/64"] } }] }] }), [
      "spec.rules.0.from.0.source.ipBlocks.0",
      "spec.rules.0.from.0.source.ipBlocks.1",
    ]);
  });
  test("path templates: {**} last, one operator per segment, no stray * { }", () => {
    for (const bad of ["/a/{**}/b/{*}", "/a/x{*}", "/a/{**}/{**}", "/a/{*}/b*"]) {
      assert.deepEqual(
        paths({ rules: [{ to: [{ operation: { paths: [bad] } }] }] }),
        ["spec.rules.0.to.0.operation.paths.0"],
        bad,
      );
    }
  });
  test("CUSTOM may not use identity fields or request.auth/source identity when keys", () => {
    const spec = {
      action: "CUSTOM",
      provider: { name: "x" },
      rules: [
        {
          from: [{ source: { principals: ["a"], ipBlocks: ["1.2.3.4"] } }],
          when: [
            { key: "request.auth.claims[a]", values: ["x"] },
            { key: "source.namespace", values: ["x"] },
            { key: "request.headers[a]", values: ["x"] },
          ],
        },
      ],
    };
    assert.deepEqual(paths(spec), [
      "spec.rules.0.from.0.source.principals",
      "spec.rules.0.when.0.key",
      "spec.rules.0.when.1.key",
    ]);
  });
  test("at most 512 rules (the 16-targetRefs limit is checked for every policy kind by api/validate)", () => {
    assert.deepEqual(paths({ rules: Array.from({ length: 513 }, () => ({})) }), ["spec.rules"]);
  });
});

describe("RequestAuthentication and PeerAuthentication validation (policy.md §2.1, §3)", () => {
  test("issuer required, jwksUri xor jwks, jwksUri http(s), jwks valid JSON", () => {
    const p = (r: object) => validateRequestAuthentication({ jwtRules: [r] }).map((e) => e.path);
    assert.deepEqual(p({ issuer: "i", jwksUri: "https://x/jwks" }), []);
    assert.deepEqual(p({}), ["spec.jwtRules.0.issuer"]);
    assert.deepEqual(p({ issuer: "i", jwksUri: "https://x", jwks: "{}" }), [
      "spec.jwtRules.0.jwks",
      "spec.jwtRules.0.jwks",
    ]);
    assert.deepEqual(p({ issuer: "i", jwksUri: "ftp://x" }), ["spec.jwtRules.0.jwksUri"]);
    assert.deepEqual(p({ issuer: "i", fromHeaders: [{ name: "" }], timeout: "soon" }), [
      "spec.jwtRules.0.fromHeaders.0.name",
      "spec.jwtRules.0.timeout",
    ]);
  });
  test("PeerAuthentication: known modes; portLevelMtls needs a selector and valid ports", () => {
    assert.deepEqual(validatePeerAuthentication({ mtls: { mode: "STRICT" } }), []);
    assert.deepEqual(
      validatePeerAuthentication({ mtls: { mode: "ON" } }).map((e) => e.path),
      ["spec.mtls.mode"],
    );
    assert.deepEqual(
      validatePeerAuthentication({ portLevelMtls: { "0": { mode: "STRICT" } } }).map((e) => e.path),
      ["spec.portLevelMtls", "spec.portLevelMtls.0"],
    );
  });
});
