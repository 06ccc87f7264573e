// TLS on the xDS stream: the server accepts grpc.ServerCredentials, the client ChannelCredentials
// (spec data-plane.md §4.1: istiod serves xDS over TLS on 15012, verified against the mesh root).
import "reflect-metadata";
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as x509 from "@peculiar/x509";
import { XdsClient } from "../../src/xds/client.js";
import { MemorySource } from "../../src/xds/memory-source.js";
import { XdsServer } from "../../src/xds/server.js";
import { ADDRESS_TYPE_URL } from "../../src/xds/types.js";
import { waitFor, workloads } from "./fixtures.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`;
}

async function pki(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=ambit-test-root",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=istiod",
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return { caPem: ca.toString("pem"), certPem: leaf.toString("pem"), keyPem: await pkcs8Pem(keys.privateKey) };
}

describe("xDS over TLS", () => {
  let server: XdsServer;
  let caPem: string;
  before(async () => {
    const p = await pki();
    caPem = p.caPem;
    const source = new MemorySource();
    source.apply(ADDRESS_TYPE_URL, workloads(2));
    server = new XdsServer({
      source,
      credentials: grpc.ServerCredentials.createSsl(null, [
        { cert_chain: Buffer.from(p.certPem), private_key: Buffer.from(p.keyPem) },
      ]),
    });
    await server.start();
  });
  after(() => server.stop());

  test("a client trusting the root syncs over TLS", async () => {
    const client = new XdsClient({
      address: `127.0.0.1:${server.port}`,
      typeUrls: [ADDRESS_TYPE_URL],
      node: { id: "n" },
      credentials: grpc.credentials.createSsl(Buffer.from(caPem)),
    });
    client.start();
    try {
      await waitFor(() => client.synced, "TLS sync");
      assert.equal(client.resources(ADDRESS_TYPE_URL).size, 2);
    } finally {
      await client.stop();
    }
  });

  test("a plaintext client never connects to the TLS server", async () => {
    const client = new XdsClient({
      address: `127.0.0.1:${server.port}`,
      typeUrls: [ADDRESS_TYPE_URL],
      node: { id: "n" },
      backoff: { initialMs: 10, maxMs: 20 },
    });
    client.start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(client.connected, false);
    assert.equal(client.resources(ADDRESS_TYPE_URL).size, 0);
    await client.stop();
  });
});
