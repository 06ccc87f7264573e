// The ABI's header-map serialisation (policy.md §5.1 "Header-map serialization") and the edit helpers.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  deserializeHeaders,
  type HeaderMap,
  replaceHeader,
  serializedSize,
  serializeHeaders,
} from "../../src/dataplane/wasm/header-map.js";
import { readImports } from "../../src/dataplane/wasm/module-info.js";

describe("header map serialisation", () => {
  // The ABI's worked example: {{"a": "1"}, {"b": "22"}}.
  test("count, then key/value lengths, then NUL-terminated keys and values", () => {
    const bytes = serializeHeaders([
      ["a", "1"],
      ["b", "22"],
    ]);
    const expected = Buffer.concat([
      Buffer.from([2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]),
      Buffer.from("a\x001\x00b\x0022\x00", "latin1"),
    ]);
    assert.deepEqual(Buffer.from(bytes), expected);
  });

  test("an empty map may be zero bytes or a single NUL byte", () => {
    assert.deepEqual(deserializeHeaders(new Uint8Array(0)), []);
    assert.deepEqual(deserializeHeaders(Uint8Array.of(0)), []);
  });

  test("a truncated map is rejected, not read out of bounds", () => {
    const bytes = serializeHeaders([["key", "value"]]);
    assert.throws(() => deserializeHeaders(bytes.subarray(0, bytes.length - 3)), { code: "AMBIT_WASM_HEADER_MAP" });
  });

  test("serialise then parse is the identity for any latin1 pairs (property)", () => {
    const latin1 = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)) });
    fc.assert(
      fc.property(fc.array(fc.tuple(latin1, latin1), { maxLength: 20 }), (pairs) => {
        const map = pairs as HeaderMap;
        const bytes = serializeHeaders(map);
        assert.equal(bytes.length, serializedSize(map));
        assert.deepEqual(deserializeHeaders(bytes), map);
      }),
    );
  });

  test("replace keeps the first occurrence's position, drops duplicates, and adds when missing", () => {
    const map: HeaderMap = [
      ["X-A", "1"],
      ["b", "2"],
      ["x-a", "3"],
    ];
    replaceHeader(map, "x-a", "9");
    assert.deepEqual(map, [
      ["X-A", "9"],
      ["b", "2"],
    ]);
    replaceHeader(map, "C", "4");
    assert.deepEqual(map.at(-1), ["c", "4"]);
  });
});

describe("module import reader", () => {
  // (module (import "env" "f" (func (param i32) (result i64))) (import "env" "memory" (memory 1 2)))
  test("reads function signatures and memory limits from the binary", () => {
    // biome-ignore format: one line per section of the module
    const bytes = Uint8Array.of(
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7e,
      0x02, 0x17, 0x02,
      0x03, 0x65, 0x6e, 0x76, 0x01, 0x66, 0x00, 0x00,
      0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x01, 0x01, 0x02,
    );
    assert.deepEqual(readImports(bytes), [
      { module: "env", name: "f", kind: "function", params: ["i32"], results: ["i64"] },
      { module: "env", name: "memory", kind: "memory", initial: 1, maximum: 2, shared: false },
    ]);
  });
});
