// The server as a ztunnel sees it: on-demand subscriptions, NACK bookkeeping by nonce, and bearer
// authentication. Spec: data-plane.md §4.1 (auth metadata, XDS_ON_DEMAND, ACK/NACK).
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { bearerTokens } from "../../src/xds/auth.js";
import { XdsClient } from "../../src/xds/client.js";
import { AuthorizationSchema } from "../../src/xds/gen/istio/security/authorization_pb.js";
import { MemorySource } from "../../src/xds/memory-source.js";
import { authorizationResource } from "../../src/xds/resources.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL } from "../../src/xds/types.js";
import { waitFor, workloads } from "./fixtures.js";
import { RawStream } from "./raw-stream.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(source: MemorySource, opts: Partial<ConstructorParameters<typeof XdsServer>[0]> = {}) {
  const server = new XdsServer({ source, pushWindowMs: 1, ...opts });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

function raw(port: number, metadata?: Record<string, string>): RawStream {
  const s = new RawStream(port, metadata);
  cleanups.push(() => s.close());
  return s;
}

/** An XdsClient for addresses on `server`, started (and stopped after the test) and synced. */
async function syncedClient(server: XdsServer): Promise<XdsClient> {
  const client = new XdsClient({
    address: `127.0.0.1:${server.port}`,
    typeUrls: [ADDRESS_TYPE_URL],
    node: { id: "n" },
  });
  client.start();
  cleanups.push(() => client.stop());
  await waitFor(() => client.synced, "sync");
  return client;
}

describe("delta ADS protocol details", () => {
  test("on-demand: subscribing and unsubscribing * gets nothing; then named lookups get just those names", async () => {
    const source = new MemorySource();
    const all = workloads(3);
    source.apply(ADDRESS_TYPE_URL, all);
    const server = await serve(source);
    const s = raw(server.port);
    s.send({ typeUrl: ADDRESS_TYPE_URL, resourceNamesSubscribe: ["*"], resourceNamesUnsubscribe: ["*"] });
    const first = await s.next();
    assert.deepEqual([first.resources.length, first.removedResources.length], [0, 0]);

    s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: first.nonce, resourceNamesSubscribe: [all[1]![0], "nope"] });
    const named = await s.next(2);
    assert.deepEqual(
      named.resources.map((r) => r.name),
      [all[1]![0]],
    );
    assert.deepEqual(named.removedResources, ["nope"]);

    // Changes to names the client did not ask for are not pushed; its own name is.
    source.apply(ADDRESS_TYPE_URL, workloads(3, "other"));
    source.remove(ADDRESS_TYPE_URL, all[1]![0]);
    const removal = await s.next(3);
    assert.deepEqual(removal.removedResources, [all[1]![0]]);
    assert.equal(removal.resources.length, 0);
  });

  test("each response has a fresh nonce; a NACK is matched to its nonce and reported with error_detail", async () => {
    const source = new MemorySource();
    source.apply(ADDRESS_TYPE_URL, workloads(1));
    const server = await serve(source);
    const acks: string[] = [];
    server.on("ack", (a) => acks.push(a.nonce));
    const s = raw(server.port);
    s.send({ node: { id: "node-1" }, typeUrl: ADDRESS_TYPE_URL });
    const first = await s.next();
    s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: first.nonce });
    await waitFor(() => acks.length === 1, "ACK");

    source.apply(ADDRESS_TYPE_URL, workloads(1, "x"));
    const second = await s.next(2);
    assert.notEqual(second.nonce, first.nonce);
    s.send({ typeUrl: ADDRESS_TYPE_URL, responseNonce: second.nonce, errorDetail: { code: 3, message: "bad ip" } });
    await waitFor(() => server.nacks.length === 1, "NACK");
    assert.deepEqual(acks, [first.nonce]);
    const nack = server.nacks[0]!;
    assert.deepEqual(
      { nodeId: nack.nodeId, nonce: nack.nonce, code: nack.code, message: nack.message },
      { nodeId: "node-1", nonce: second.nonce, code: 3, message: "bad ip" },
    );
    assert.deepEqual(
      nack.resources.map((r) => r.name),
      second.resources.map((r) => r.name),
    );
  });

  test("bearer authentication: a known token is accepted and names the connection; others are UNAUTHENTICATED", async () => {
    const source = new MemorySource();
    const server = await serve(source, { authenticate: bearerTokens(new Map([["s3cret", "ztunnel-node-a"]])) });

    const denied = raw(server.port, { authorization: "Bearer wrong" });
    denied.send({ typeUrl: ADDRESS_TYPE_URL });
    await waitFor(() => denied.error !== undefined, "rejection");
    assert.equal(denied.error?.code, grpc.status.UNAUTHENTICATED);
    assert.match(denied.error?.details ?? "", /unknown bearer token/);

    const anonymous = raw(server.port);
    anonymous.send({ typeUrl: ADDRESS_TYPE_URL });
    await waitFor(() => anonymous.error !== undefined, "rejection");
    assert.equal(anonymous.error?.code, grpc.status.UNAUTHENTICATED);

    const client = new XdsClient({
      address: `127.0.0.1:${server.port}`,
      typeUrls: [ADDRESS_TYPE_URL],
      node: { id: "self-declared" },
      metadata: { authorization: "Bearer s3cret" },
    });
    client.start();
    cleanups.push(() => client.stop());
    await waitFor(() => client.synced, "authenticated sync");
    assert.equal(server.connections()[0]?.identity, "ztunnel-node-a");
  });

  test("the server pushes only the types a client subscribed to", async () => {
    const source = new MemorySource();
    const server = await serve(source);
    const client = await syncedClient(server);
    const clientNacks: string[] = [];
    client.on("nack", (n) => clientNacks.push(n.message));
    source.apply("type.googleapis.com/unknown.Thing", workloads(1));
    source.apply(ADDRESS_TYPE_URL, workloads(1));
    await waitFor(() => client.resources(ADDRESS_TYPE_URL).size === 1, "push");
    assert.deepEqual(clientNacks, []);
    assert.equal(client.connected, true);
  });

  test("the client NACKs a resource whose Any type differs from the response's type, and stays connected", async () => {
    const source = new MemorySource();
    const server = await serve(source);
    const client = await syncedClient(server);
    const [, policy] = authorizationResource(create(AuthorizationSchema, { name: "p", namespace: "ns" }));
    source.set(ADDRESS_TYPE_URL, "ns/p", policy.version, policy.resource);
    await waitFor(() => server.nacks.length === 1, "NACK");
    assert.match(server.nacks[0]!.message, /^ns\/p: resource is type.googleapis.com\/istio.security.Authorization/);
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 0);
    assert.equal(client.connected, true);
  });
});

describe("server lifecycle", () => {
  test("binding a port already in use fails with AMBIT_XDS_BIND", async () => {
    const first = new XdsServer({ source: new MemorySource() });
    const port = await first.start();
    try {
      const second = new XdsServer({ source: new MemorySource(), address: `127.0.0.1:${port}` });
      await assert.rejects(second.start(), { code: "AMBIT_XDS_BIND" });
    } finally {
      await first.stop();
    }
  });
});
