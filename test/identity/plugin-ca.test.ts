// Istio's plug-in CA (`cacerts`: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem): workload certificates
// are signed by an intermediate and carry its chain, while the mesh trusts only the root. data-plane.md §1.2: "the
// client presents its workload certificate plus intermediates", "standard WebPKI chain validation against the
// mesh root store".

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { isAmbitError } from "../../src/errors.js";
import { MeshCa, PLUGIN_CA_FILES, type PluginCaPem } from "../../src/identity/ca.js";
import { createCsr } from "../../src/identity/csr.js";
import { closeServer, echoOrigin, readAll, startPair } from "../hbone/harness.js";
import { pluginFiles } from "./plugin-files.js";

const FOO = "spiffe://cluster.local/ns/default/sa/foo";
const BAR = "spiffe://cluster.local/ns/default/sa/bar";

async function workload(ca: MeshCa, identity: string): Promise<{ source: CertSource; chain: string[] }> {
  const { keyPem, csrPem } = await createCsr(identity);
  const chain = await ca.sign(csrPem, { node: "n", identity });
  // What a node agent serves: leaf and intermediates; the root only as the trust anchor.
  return { source: { key: keyPem, cert: chain.slice(0, -1).join(""), ca: chain[chain.length - 1]! }, chain };
}

describe("plug-in CA (intermediate signing)", () => {
  let root: MeshCa;
  let clusterA: PluginCaPem;
  let clusterB: PluginCaPem;

  before(async () => {
    root = await MeshCa.generate({ authorizer: () => true });
    clusterA = await pluginFiles(root, "cluster-a");
    clusterB = await pluginFiles(root, "cluster-b");
  });

  it("signs with the intermediate and answers leaf, intermediate, root", async () => {
    const ca = await MeshCa.fromPlugin(clusterA, { authorizer: () => true });
    assert.equal(ca.rootPem, root.rootPem, "the trust bundle is the root, not the intermediate");
    const { chain } = await workload(ca, FOO);
    assert.equal(chain.length, 3);
    const [leaf, mid, top] = chain.map((c) => new X509Certificate(c));
    assert.equal(leaf!.subjectAltName, `URI:${FOO}`);
    assert.ok(leaf!.checkIssued(mid!) && leaf!.verify(mid!.publicKey), "leaf signed by the intermediate");
    assert.ok(mid!.checkIssued(top!) && mid!.verify(top!.publicKey), "intermediate signed by the root");
    assert.equal(top!.fingerprint256, new X509Certificate(root.rootPem).fingerprint256);
    assert.ok(Date.parse(leaf!.validTo) <= Date.parse(mid!.validTo));
  });

  it("mutual TLS between workloads of two intermediates under one root works (HBONE)", async () => {
    const a = await MeshCa.fromPlugin(clusterA, { authorizer: () => true });
    const b = await MeshCa.fromPlugin(clusterB, { authorizer: () => true });
    const client = await workload(a, FOO);
    const server = await workload(b, BAR);
    const echo = await echoOrigin();
    const pair = await startPair({ server: { certs: () => server.source }, pool: { certs: () => client.source } });
    try {
      const t = await pair.pool.connect({
        address: pair.address,
        target: `127.0.0.1:${echo.port}`,
        expectedIdentities: [BAR],
      });
      t.end("across intermediates");
      assert.equal((await readAll(t)).toString(), "across intermediates");
    } finally {
      await pair.close();
      await closeServer(echo.server);
    }
  });

  it("a leaf presented without its intermediate is not trusted", async () => {
    const a = await MeshCa.fromPlugin(clusterA, { authorizer: () => true });
    const server = await workload(a, BAR);
    const leafOnly = await workload(a, FOO);
    const pair = await startPair({
      server: { certs: () => server.source },
      pool: { certs: () => ({ ...leafOnly.source, cert: leafOnly.chain[0]! }) },
    });
    const refused: string[] = [];
    pair.server.on("rejected", (e) => refused.push(e.code));
    try {
      await assert.rejects(
        pair.pool.connect({ address: pair.address, target: "127.0.0.1:9", expectedIdentities: [BAR] }),
      );
      assert.deepEqual(refused, ["AMBIT_HBONE_PEER_UNTRUSTED"]);
    } finally {
      await pair.close();
    }
  });

  it("reads Istio's cacerts folder layout, and names a missing file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ambit-cacerts-"));
    try {
      writeFileSync(join(dir, PLUGIN_CA_FILES.caCert), clusterA.caCert);
      writeFileSync(join(dir, PLUGIN_CA_FILES.caKey), clusterA.caKey);
      writeFileSync(join(dir, PLUGIN_CA_FILES.rootCert), clusterA.rootCert);
      await assert.rejects(
        MeshCa.fromPluginDir(dir),
        (e) => isAmbitError(e, "AMBIT_CA_CONFIG") && e.message.includes(join(dir, "cert-chain.pem")),
      );
      writeFileSync(join(dir, PLUGIN_CA_FILES.certChain), clusterA.certChain);
      const ca = await MeshCa.fromPluginDir(dir, { authorizer: () => true });
      assert.equal((await workload(ca, FOO)).chain.length, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a chain without the root still ends at the root in issued chains", async () => {
    const ca = await MeshCa.fromPlugin({ ...clusterA, certChain: clusterA.caCert }, { authorizer: () => true });
    const { chain } = await workload(ca, FOO);
    assert.equal(chain.length, 3);
    assert.equal(chain[2], root.rootPem);
  });

  it("refuses inconsistent files with AMBIT_CA_CONFIG naming the problem", async () => {
    const other = await MeshCa.generate();
    const foreign = await pluginFiles(other, "foreign");
    const cases: Array<[string, PluginCaPem, RegExp]> = [
      ["key of another CA", { ...clusterA, caKey: clusterB.caKey }, /does not match ca-cert.pem/],
      ["chain of another CA", { ...clusterA, certChain: clusterB.certChain }, /must start with the certificate/],
      ["intermediate of another root", { ...foreign, rootCert: root.rootPem }, /is not signed by/],
      ["a leaf as the CA", { ...clusterA, caCert: (await workload(root, FOO)).chain[0]! }, /is not a CA/],
      ["no certificate", { ...clusterA, rootCert: "garbage" }, /root-cert.pem holds no PEM certificate/],
    ];
    for (const [what, files, message] of cases) {
      await assert.rejects(
        MeshCa.fromPlugin(files),
        (e) => isAmbitError(e, "AMBIT_CA_CONFIG") && message.test(e.message),
        what,
      );
    }
  });
});

describe("plug-in CA: a root loaded as its own signer", () => {
  let root: MeshCa;
  before(async () => {
    root = await MeshCa.generate({ authorizer: () => true });
  });

  it("ca-cert = cert-chain = root-cert (istiod's self-signed layout) issues leaf + root", async () => {
    const ca = await MeshCa.fromPlugin(
      { caCert: root.rootPem, caKey: await root.exportRootKeyPem(), certChain: root.rootPem, rootCert: root.rootPem },
      { authorizer: () => true },
    );
    const { chain } = await workload(ca, FOO);
    assert.deepEqual(chain.length, 2);
    assert.equal(chain[1], root.rootPem);
  });
});
