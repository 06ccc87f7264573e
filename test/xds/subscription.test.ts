// The per-client delta bookkeeping, tested as plain data. Spec: data-plane.md §4.1 (wildcard and
// on-demand subscriptions, initial_resource_versions); Envoy's delta xDS protocol rules.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { Subscription } from "../../src/xds/subscription.js";
import type { VersionedResource } from "../../src/xds/types.js";

const res = (version: string): VersionedResource => ({ version, resource: create(AnySchema, { typeUrl: "t" }) });
const world = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([n, v]) => [n, res(v)] as [string, VersionedResource]));
const names = (d: { upserts: [string, VersionedResource][] }) => d.upserts.map(([n]) => n).sort();

describe("Subscription", () => {
  test("an empty first request is a wildcard subscription and gets the whole snapshot", () => {
    const s = new Subscription();
    s.open([], [], {});
    assert.equal(s.wildcard, true);
    const d = s.diffSnapshot(world({ a: "1", b: "1" }));
    assert.deepEqual(names(d), ["a", "b"]);
    assert.deepEqual(d.removes, []);
  });

  test("subscribing and unsubscribing * at once subscribes to nothing (ztunnel on-demand)", () => {
    const s = new Subscription();
    s.open(["*"], ["*"], {});
    assert.equal(s.wildcard, false);
    assert.deepEqual(names(s.diffSnapshot(world({ a: "1" }))), []);
  });

  test("initial_resource_versions: only changed resources are sent and vanished ones removed", () => {
    const s = new Subscription();
    s.open([], [], { a: "1", b: "1", gone: "1" });
    const d = s.diffSnapshot(world({ a: "1", b: "2", c: "1" }));
    assert.deepEqual(names(d), ["b", "c"]);
    assert.deepEqual(d.removes, ["gone"]);
  });

  test("explicit names: only those are sent, and a missing name is answered in removed_resources", () => {
    const s = new Subscription();
    s.open(["*"], ["*"], {});
    const { added } = s.change(["a", "missing"], []);
    const d = s.answerNames(added, world({ a: "1", b: "1" }));
    assert.deepEqual(names(d), ["a"]);
    assert.deepEqual(d.removes, ["missing"]);
    s.commit(d);
    const events = s.diffEvents(world({ a: "2", b: "2" }), ["zzz"]);
    assert.deepEqual(names(events), ["a"]);
    assert.deepEqual(events.removes, []);
  });

  test("a name subscribed again is answered even if the client is believed to hold it", () => {
    const s = new Subscription();
    s.open(["a"], [], {});
    s.commit(s.diffSnapshot(world({ a: "1" })));
    const { added } = s.change(["a"], []);
    assert.deepEqual(names(s.answerNames(added, world({ a: "1" }))), ["a"]);
  });

  test("events for a version the client holds are not resent; removals only for what it holds", () => {
    const s = new Subscription();
    s.open([], [], {});
    s.commit(s.diffSnapshot(world({ a: "1" })));
    const d = s.diffEvents(world({ a: "1", b: "1" }), ["a", "never-sent"]);
    assert.deepEqual(names(d), ["b"]);
    assert.deepEqual(d.removes, ["a"]);
  });

  test("unsubscribing * drops the names held only through the wildcard", () => {
    const s = new Subscription();
    s.open(["*", "a"], [], {});
    s.commit(s.diffSnapshot(world({ a: "1", b: "1" })));
    s.change([], ["*"]);
    assert.deepEqual([...s.known.keys()], ["a"]);
    assert.equal(s.interested("b"), false);
  });

  // Property: whatever the client held, applying the snapshot diff yields exactly the snapshot.
  test("applying diffSnapshot to the client's holdings converges to the snapshot", () => {
    const versions = fc.dictionary(fc.constantFrom("a", "b", "c", "d", "e"), fc.constantFrom("1", "2"));
    fc.assert(
      fc.property(versions, versions, (held, current) => {
        const s = new Subscription();
        s.open([], [], held);
        const d = s.diffSnapshot(world(current));
        const client = new Map<string, string>(Object.entries(held));
        for (const [n, r] of d.upserts) client.set(n, r.version);
        for (const n of d.removes) client.delete(n);
        assert.deepEqual(Object.fromEntries([...client].sort()), Object.fromEntries(Object.entries(current).sort()));
      }),
    );
  });
});
