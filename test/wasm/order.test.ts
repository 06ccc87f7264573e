// WasmPlugin ordering in a waypoint chain (policy.md §5 `phase` and `priority`).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type OrderablePlugin, orderPlugins } from "../../src/dataplane/wasm/order.js";

const names = (ps: OrderablePlugin[]) => ps.map((p) => p.name);

describe("orderPlugins", () => {
  test("phases run AUTHN, AUTHZ, STATS, then unspecified", () => {
    const out = orderPlugins([
      { name: "stats", phase: "STATS" },
      { name: "none" },
      { name: "authz", phase: "AUTHZ" },
      { name: "unspec", phase: "UNSPECIFIED_PHASE" },
      { name: "authn", phase: "AUTHN" },
    ]);
    assert.deepEqual(names(out), ["authn", "authz", "stats", "none", "unspec"]);
  });

  test("within a phase, higher priority runs first", () => {
    const out = orderPlugins([
      { name: "low", phase: "AUTHZ", priority: -5 },
      { name: "high", phase: "AUTHZ", priority: 100 },
      { name: "zero", phase: "AUTHZ", priority: 0 },
    ]);
    assert.deepEqual(names(out), ["high", "zero", "low"]);
  });

  // §5 [code-vs-doc divergence]: an unset priority sorts as MinInt32, after an explicit negative priority.
  test("an unset priority sorts last, even after a negative one", () => {
    const out = orderPlugins([
      { name: "unset", phase: "STATS" },
      { name: "negative", phase: "STATS", priority: -2147483647 },
    ]);
    assert.deepEqual(names(out), ["negative", "unset"]);
  });

  test("ties keep creation order, then name, then namespace", () => {
    const out = orderPlugins([
      { name: "b", namespace: "x", creationTimestamp: "2024-01-02T00:00:00Z", priority: 1 },
      { name: "z", namespace: "x", creationTimestamp: "2024-01-01T00:00:00Z", priority: 1 },
      { name: "a", namespace: "y", creationTimestamp: "2024-01-02T00:00:00Z", priority: 1 },
      { name: "a", namespace: "x", creationTimestamp: "2024-01-02T00:00:00Z", priority: 1 },
    ]);
    assert.deepEqual(
      out.map((p) => `${p.namespace}/${p.name}`),
      ["x/z", "x/a", "y/a", "x/b"],
    );
  });

  test("the input array is not modified", () => {
    const input: OrderablePlugin[] = [{ name: "b" }, { name: "a" }];
    orderPlugins(input);
    assert.deepEqual(names(input), ["b", "a"]);
  });
});
