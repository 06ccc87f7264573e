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

  test("the window is not extended by later events, so latency stays bounded", async () => {
    const flushedAt: number[] = [];
    const start = performance.now();
    const b = new PushBatcher(30, () => flushedAt.push(performance.now() - start));
    const timer = setInterval(() => b.add("t", new Map([["a", r(String(Math.random()))]]), []), 5);
    await new Promise((res) => setTimeout(res, 50));
    clearInterval(timer);
    b.close();
    assert.ok(flushedAt.length >= 1);
    assert.ok(flushedAt[0]! < 45, `first flush at ${flushedAt[0]} ms`);
  });
});
