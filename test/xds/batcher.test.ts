// Push batching: events inside one window become one push, later events win. Brief: "a Push should
// batch events in a short window".
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { type Batch, PushBatcher } from "../../src/xds/batcher.js";

const r = (version: string) => ({ version, resource: create(AnySchema, {}) });

describe("PushBatcher", () => {
  test("events within the window are flushed once, with later events winning per name", async () => {
    const batches: Batch[] = [];
    const b = new PushBatcher(20, (batch) => batches.push(batch));
    b.add("t", new Map([["a", r("1")]]), []);
    b.add(
      "t",
      new Map([
        ["a", r("2")],
        ["b", r("1")],
      ]),
      [],
    );
    b.add("t", new Map(), ["b"]);
    b.add("u", new Map(), ["x"]);
    assert.equal(batches.length, 0);
    await new Promise((res) => setTimeout(res, 40));
    assert.equal(batches.length, 1);
    const t = batches[0]!.get("t")!;
    assert.deepEqual(
      [...t.upserts].map(([n, v]) => [n, v.version]),
      [["a", "2"]],
    );
    assert.deepEqual([...t.removes], ["b"]);
    assert.deepEqual([...batches[0]!.get("u")!.removes], ["x"]);
    b.close();
  });

  test("an upsert after a removal of the same name cancels the removal", () => {
    const batches: Batch[] = [];
    const b = new PushBatcher(1000, (batch) => batches.push(batch));
    b.add("t", new Map(), ["a"]);
    b.add("t", new Map([["a", r("3")]]), []);
    b.flushNow();
    const t = batches[0]!.get("t")!;
    assert.deepEqual([...t.removes], []);
    assert.deepEqual([...t.upserts.keys()], ["a"]);
    b.close();
  });

  test("the window is not extended by later events, so a steady stream still flushes every window", async () => {
    let flushes = 0;
    const b = new PushBatcher(20, () => flushes++);
    const timer = setInterval(() => b.add("t", new Map([["a", r(String(Math.random()))]]), []), 5);
    await new Promise((res) => setTimeout(res, 100));
    clearInterval(timer);
    b.close();
    // A debounce that restarted on every event would never have flushed.
    assert.ok(flushes >= 2, `${flushes} flushes`);
  });

  test("a zero window still merges one synchronous burst into one flush", async () => {
    const batches: Batch[] = [];
    const b = new PushBatcher(0, (batch) => batches.push(batch));
    b.add("t", new Map([["a", r("1")]]), []);
    b.add("t", new Map([["b", r("1")]]), []);
    await new Promise((res) => setImmediate(res));
    await new Promise((res) => setImmediate(res));
    assert.equal(batches.length, 1);
    assert.deepEqual([...batches[0]!.get("t")!.upserts.keys()], ["a", "b"]);
    b.close();
  });
});
