import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isAmbitError } from "../../src/errors.js";
import {
  formatSpiffeId,
  identityFromSans,
  parseSpiffeId,
  tryParseSpiffeId,
  uriSans,
} from "../../src/identity/spiffe.js";

// data-plane.md §1.2 "Identity format": exactly spiffe://<td>/ns/<ns>/sa/<sa>.
describe("SPIFFE identities", () => {
  it("parses the five-segment form", () => {
    assert.deepEqual(parseSpiffeId("spiffe://cluster.local/ns/default/sa/bookinfo-productpage"), {
      trustDomain: "cluster.local",
      namespace: "default",
      serviceAccount: "bookinfo-productpage",
    });
  });

  it("format and parse are inverses", () => {
    const name = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
    fc.assert(
      fc.property(fc.record({ trustDomain: name, namespace: name, serviceAccount: name }), (id) => {
        assert.deepEqual(parseSpiffeId(formatSpiffeId(id)), { ...id });
      }),
    );
  });

  for (const bad of [
    "spiffe://cluster.local/ns/default",
    "spiffe://cluster.local/ns/default/sa/foo/extra",
    "spiffe://cluster.local/namespace/default/sa/foo",
    "spiffe://cluster.local/ns/default/serviceaccount/foo",
    "spiffe://Cluster.Local/ns/default/sa/foo",
    "spiffe:///ns/default/sa/foo",
    "spiffe://cluster.local/ns//sa/foo",
    "https://cluster.local/ns/default/sa/foo",
    "cluster.local/ns/default/sa/foo",
  ]) {
    it(`rejects ${bad}`, () => {
      assert.equal(tryParseSpiffeId(bad), undefined);
      assert.throws(
        () => parseSpiffeId(bad),
        (e) => isAmbitError(e, "AMBIT_IDENTITY_INVALID"),
      );
    });
  }

  // §1.2: the peer identity is the first *parseable* URI SAN of the leaf; DNS names are ignored.
  it("peer identity is the first parseable URI SAN", () => {
    const san = "DNS:foo.example, URI:https://x.example/a, URI:spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/c/sa/d";
    assert.deepEqual(uriSans(san), ["https://x.example/a", "spiffe://td/ns/a/sa/b", "spiffe://td/ns/c/sa/d"]);
    assert.equal(identityFromSans(san), "spiffe://td/ns/a/sa/b");
    assert.equal(identityFromSans("DNS:foo.example"), undefined);
    assert.equal(identityFromSans(undefined), undefined);
  });
});
