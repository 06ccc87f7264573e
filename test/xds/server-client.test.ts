// End-to-end delta ADS over real gRPC on loopback: server fed by a MemorySource, Ambit's client.
// Spec: data-plane.md §4.1 (wildcard, initial_resource_versions, ACK/NACK) and §(b) 10.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { type UpdateEvent, XdsClient } from "../../src/xds/client.js";
import { MemorySource } from "../../src/xds/memory-source.js";
import { addressResource, decodeAddress, validateResource } from "../../src/xds/resources.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../src/xds/types.js";
import { service, waitFor, workload, workloads } from "./fixtures.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(source: MemorySource, port = 0): Promise<XdsServer> {
  const server = new XdsServer({ source, address: `127.0.0.1:${port}`, pushWindowMs: 2 });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

function startClient(port: number, opts: Partial<ConstructorParameters<typeof XdsClient>[0]> = {}): XdsClient {
  const client = new XdsClient({
    address: `127.0.0.1:${port}`,
    typeUrls: [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL],
    node: { id: "ztunnel~10.0.0.1~ztunnel-abc.istio-system~istio-system.svc.cluster.local" },
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  client.start();
  cleanups.push(() => client.stop());
  return client;
}

const synced = (c: XdsClient, n: number) => () => c.synced && c.resources(ADDRESS_TYPE_URL).size === n;

describe("delta ADS server and client", () => {
  test("a change in the source reaches a connected client as a delta within 100 ms", async (t) => {
    const source = new MemorySource();
    source.apply(ADDRESS_TYPE_URL, workloads(3));
    const server = await startServer(source);
    const client = startClient(server.port);
    await waitFor(synced(client, 3), "initial sync");

    const updates: UpdateEvent[] = [];
    client.on("update", (u) => updates.push(u));
    const [name, r] = addressResource(workload("cluster1//v1/Pod/default/new", [10, 9, 9, 9]));
    const t0 = performance.now();
    source.set(ADDRESS_TYPE_URL, name, r.version, r.resource);
    await waitFor(() => client.resources(ADDRESS_TYPE_URL).has(name), "the pushed workload");
    const latency = performance.now() - t0;

    t.diagnostic(`push latency ${latency.toFixed(1)} ms`);
    assert.ok(latency < 100, `push latency ${latency.toFixed(1)} ms`);
    // Only the changed resource travels: a delta, not the world.
    assert.deepEqual(updates, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [name], removed: [] }]);
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 4);
  });

  test("a removal in the source arrives as removed_resources and leaves the rest", async () => {
    const source = new MemorySource();
    const all = workloads(3);
    source.apply(ADDRESS_TYPE_URL, all);
    const server = await startServer(source);
    const client = startClient(server.port);
    await waitFor(synced(client, 3), "initial sync");
    const updates: UpdateEvent[] = [];
    client.on("update", (u) => updates.push(u));

    source.remove(ADDRESS_TYPE_URL, all[1]![0]);
    await waitFor(synced(client, 2), "removal");
    assert.deepEqual(updates, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [], removed: [all[1]![0]] }]);
    assert.deepEqual([...client.resources(ADDRESS_TYPE_URL).keys()], [all[0]![0], all[2]![0]]);
  });

  test("events within the push window reach the client as one response; later events win", async () => {
    const source = new MemorySource();
    const server = new XdsServer({ source, pushWindowMs: 30 });
    await server.start();
    cleanups.push(() => server.stop());
    const client = startClient(server.port);
    await waitFor(() => client.synced, "initial sync");
    const updates: UpdateEvent[] = [];
    client.on("update", (u) => updates.push(u));

    const [a, b] = workloads(2);
    source.apply(ADDRESS_TYPE_URL, [a!]);
    source.apply(ADDRESS_TYPE_URL, [b!]);
    source.remove(ADDRESS_TYPE_URL, a![0]);
    await waitFor(synced(client, 1), "batched push");
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(updates, [{ typeUrl: ADDRESS_TYPE_URL, upserted: [b![0]], removed: [] }]);
  });

  test("a NACK keeps the client's last good state and is recorded at the server with its message", async () => {
    const source = new MemorySource();
    const good = addressResource(workload("cluster1//v1/Pod/default/a", [10, 0, 0, 1]));
    source.apply(ADDRESS_TYPE_URL, [good]);
    const server = await startServer(source);
    const client = startClient(server.port, {
      validate: (typeUrl, name, any) => {
        validateResource(typeUrl, name, any);
        const a = decodeAddress(any);
        if (a.type.case === "workload" && a.type.value.node === "bad") throw new Error("node bad is not allowed");
      },
    });
    await waitFor(synced(client, 1), "initial sync");
    const nacked = new Promise((resolve) => server.once("nack", resolve));

    const bad = addressResource(workload("cluster1//v1/Pod/default/a", [10, 0, 0, 1], { node: "bad" }));
    const other = addressResource(workload("cluster1//v1/Pod/default/b", [10, 0, 0, 2]));
    source.apply(ADDRESS_TYPE_URL, [bad, other]);
    await nacked;

    // The whole response is rejected: the good version of a stays, b is not half-applied.
    assert.equal(client.resources(ADDRESS_TYPE_URL).get(good[0])?.version, good[1].version);
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 1);
    assert.equal(server.nacks.length, 1);
    const nack = server.nacks[0]!;
    assert.equal(nack.typeUrl, ADDRESS_TYPE_URL);
    assert.equal(nack.nodeId, "ztunnel~10.0.0.1~ztunnel-abc.istio-system~istio-system.svc.cluster.local");
    assert.match(nack.message, /node bad is not allowed/);
    assert.deepEqual(nack.resources.map((r) => r.version).sort(), [bad[1].version, other[1].version].sort());

    // The rejected version is not resent when an unrelated change is pushed.
    const received: string[] = [];
    client.on("update", (u) => received.push(...u.upserted));
    const c = addressResource(workload("cluster1//v1/Pod/default/c", [10, 0, 0, 3]));
    source.apply(ADDRESS_TYPE_URL, [c, bad]);
    await waitFor(() => client.resources(ADDRESS_TYPE_URL).has(c[0]), "next push");
    assert.deepEqual(received, [c[0]]);
    assert.equal(server.nacks.length, 1);
  });

  test("after a server restart the client reconnects with initial_resource_versions and gets only what changed", async () => {
    const source = new MemorySource();
    const all = workloads(5);
    source.apply(ADDRESS_TYPE_URL, all);
    let server = await startServer(source);
    const port = server.port;
    const client = startClient(port);
    await waitFor(synced(client, 5), "initial sync");
    const disconnected = new Promise((resolve) => client.once("disconnected", resolve));
    await server.stop();
    await disconnected;

    // While disconnected the client keeps serving its last good state.
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 5);
    let minSize = Number.POSITIVE_INFINITY;
    const updates: UpdateEvent[] = [];
    client.on("update", (u) => {
      updates.push(u);
      minSize = Math.min(minSize, client.resources(ADDRESS_TYPE_URL).size);
    });
    const changed = addressResource(workload(all[0]![0], [10, 200, 0, 0]));
    source.apply(ADDRESS_TYPE_URL, [changed], [all[4]![0]]);
    const added = addressResource(service("default", "reviews"));
    source.apply(ADDRESS_TYPE_URL, [added]);

    server = await startServer(source, port);
    await waitFor(() => client.resources(ADDRESS_TYPE_URL).get(all[0]![0])?.version === changed[1].version, "resync");
    await waitFor(() => updates.length >= 2, "both types answered");

    const addressUpdates = updates.filter((u) => u.typeUrl === ADDRESS_TYPE_URL);
    assert.equal(addressUpdates.length, 1);
    assert.deepEqual([...addressUpdates[0]!.upserted].sort(), [all[0]![0], added[0]].sort());
    assert.deepEqual(addressUpdates[0]!.removed, [all[4]![0]]);
    assert.equal(minSize, 5, "the state was never emptied");
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 5);
  });

  test("10k resources sync in full on first connect, split into bounded responses", async (t) => {
    const source = new MemorySource();
    source.apply(ADDRESS_TYPE_URL, workloads(10_000));
    const server = new XdsServer({ source, maxResponseBytes: 256 * 1024 });
    await server.start();
    cleanups.push(() => server.stop());
    const t0 = performance.now();
    const client = startClient(server.port);
    const received: string[] = [];
    let responses = 0;
    client.on("update", (u) => {
      if (u.typeUrl !== ADDRESS_TYPE_URL) return;
      responses++;
      received.push(...u.upserted);
    });
    await waitFor(synced(client, 10_000), "10k sync", 10_000);
    t.diagnostic(`10k sync: ${(performance.now() - t0).toFixed(0)} ms in ${responses} responses`);
    await waitFor(() => received.length === 10_000, "all chunks");
    assert.equal(new Set(received).size, 10_000, "each resource sent once");
    assert.ok(responses > 1, "a response never exceeds maxResponseBytes, so 10k resources need several");
  });
});
