import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { isAmbitError } from "../../src/errors.js";
import { MeshCa } from "../../src/identity/ca.js";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "../../src/identity/cert-proto.js";
import { createCsr } from "../../src/identity/csr.js";
import { EC_P256, generateP256, privateKeyToPem, x509 } from "../../src/identity/x509.js";

const FOO = "spiffe://cluster.local/ns/default/sa/foo";
const BAR = "spiffe://cluster.local/ns/default/sa/bar";

// data-plane.md §4.3: ECDSA P-256 CSR with the SPIFFE URI as only SAN; 24 h TTL; chain leaf first.
describe("mesh CA", () => {
  it("signs a CSR for the requested identity: SAN, chain, 24 h default TTL, both EKUs", async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const ca = await MeshCa.generate({ authorizer: () => true, now: () => t0 });
    const { keyPem, csrPem } = await createCsr(FOO);
    const chain = await ca.sign(csrPem, { node: "node-a", identity: FOO });
    assert.equal(chain.length, 2);
    assert.equal(chain[1], ca.rootPem);
    const leaf = new X509Certificate(chain[0]!);
    const root = new X509Certificate(ca.rootPem);
    assert.equal(leaf.subjectAltName, `URI:${FOO}`);
    assert.ok(leaf.verify(root.publicKey));
    assert.ok(leaf.checkIssued(root));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)));
    assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 24 * 3600 * 1000);
    assert.equal(Date.parse(leaf.validFrom), t0);
    assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.equal(leaf.ca, false);
  });

  it("the default trust domain is cluster.local and a custom one is honoured", async () => {
    assert.equal((await MeshCa.generate()).trustDomain, "cluster.local");
    const ca = await MeshCa.generate({ trustDomain: "example.org", authorizer: () => true });
    const id = "spiffe://example.org/ns/a/sa/b";
    const chain = await ca.sign((await createCsr(id)).csrPem, { node: "n", identity: id });
    assert.equal(new X509Certificate(chain[0]!).subjectAltName, `URI:${id}`);
  });

  it("the CSR's SAN must equal the requested identity", async () => {
    const ca = await MeshCa.generate({ authorizer: () => true });
    const { csrPem } = await createCsr(FOO);
    await assert.rejects(
      ca.sign(csrPem, { node: "node-a", identity: BAR }),
      (e) => isAmbitError(e, "AMBIT_CA_CSR_INVALID") && e.message.includes(BAR),
    );
  });

  it("a CSR with an extra DNS SAN is refused", async () => {
    const ca = await MeshCa.generate({ authorizer: () => true });
    const keys = await generateP256();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      signingAlgorithm: EC_P256,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "url", value: FOO },
          { type: "dns", value: "evil.example" },
        ]),
      ],
    });
    await assert.rejects(ca.sign(csr.toString("pem"), { node: "n", identity: FOO }), (e) =>
      isAmbitError(e, "AMBIT_CA_CSR_INVALID"),
    );
  });

  it("refuses identities outside its trust domain", async () => {
    const ca = await MeshCa.generate({ authorizer: () => true });
    const other = "spiffe://other.local/ns/default/sa/foo";
    await assert.rejects(ca.sign((await createCsr(other)).csrPem, { node: "n", identity: other }), (e) =>
      isAmbitError(e, "AMBIT_CA_TRUST_DOMAIN"),
    );
  });

  // §4.3 "Impersonation": a node gets only identities of workloads on that node.
  it("the Authorizer refuses identities of another node's workloads with AMBIT_CA_IMPERSONATION", async () => {
    const placement = new Map([[FOO, "node-a"]]);
    const ca = await MeshCa.generate({
      authorizer: (node, identity) => placement.get(identity) === node || `no workload with ${identity} on ${node}`,
    });
    const { csrPem } = await createCsr(FOO);
    assert.equal((await ca.sign(csrPem, { node: "node-a", identity: FOO })).length, 2);
    await assert.rejects(
      ca.sign(csrPem, { node: "node-b", identity: FOO }),
      (e) =>
        isAmbitError(e, "AMBIT_CA_IMPERSONATION") &&
        e.message === `node "node-b" may not obtain a certificate for ${FOO}: no workload with ${FOO} on node-b`,
    );
  });

  it("without an Authorizer nothing is signed", async () => {
    const ca = await MeshCa.generate();
    await assert.rejects(ca.sign((await createCsr(FOO)).csrPem, { node: "n", identity: FOO }), (e) =>
      isAmbitError(e, "AMBIT_CA_IMPERSONATION"),
    );
  });

  it("loads a root from PEM and keeps signing with it", async () => {
    const ca = await MeshCa.generate();
    const loaded = await MeshCa.fromPem(ca.rootPem, await ca.exportRootKeyPem(), { authorizer: () => true });
    const chain = await loaded.sign((await createCsr(FOO)).csrPem, { node: "n", identity: FOO });
    assert.ok(new X509Certificate(chain[0]!).verify(new X509Certificate(ca.rootPem).publicKey));
  });

  it("refuses a root key that does not match the root certificate", async () => {
    const ca = await MeshCa.generate();
    const stranger = await privateKeyToPem((await generateP256()).privateKey);
    await assert.rejects(MeshCa.fromPem(ca.rootPem, stranger), (e) => isAmbitError(e, "AMBIT_CA_CONFIG"));
  });

  it("node tokens map back to their node; re-registering revokes the old token", async () => {
    const ca = await MeshCa.generate();
    const t1 = ca.registerNode("node-a");
    assert.equal(ca.nodeForToken(t1), "node-a");
    const t2 = ca.registerNode("node-a");
    assert.notEqual(t1, t2);
    assert.equal(ca.nodeForToken(t1), undefined);
    assert.equal(ca.nodeForToken(t2), "node-a");
    assert.equal(ca.nodeForToken("nonsense"), undefined);
  });
});

describe("IstioCertificateService messages", () => {
  it("round-trip with Istio's field numbers", () => {
    const req = { csr: "CSR", validityDuration: 86400, metadata: { ImpersonatedIdentity: FOO } };
    assert.deepEqual(decodeRequest(encodeRequest(req)), req);
    // csr = field 1 (tag 0x0a), validity_duration = field 2 varint (tag 0x10).
    assert.deepEqual([...encodeRequest({ csr: "x", validityDuration: 5, metadata: {} })], [0x0a, 1, 0x78, 0x10, 5]);
    const res = { certChain: ["leaf", "root"] };
    assert.deepEqual(decodeResponse(encodeResponse(res)), res);
  });
});
