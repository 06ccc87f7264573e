import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { isAmbitError } from "../../src/errors.js";
import { MeshCa } from "../../src/identity/ca.js";
import { GrpcCertificateClient } from "../../src/identity/cert-client.js";
import { CREATE_CERTIFICATE_PATH, decodeResponse, encodeRequest } from "../../src/identity/cert-proto.js";
import { CertificateService } from "../../src/identity/cert-service.js";
import { createCsr } from "../../src/identity/csr.js";

const FOO = "spiffe://cluster.local/ns/default/sa/foo";
const BAR = "spiffe://cluster.local/ns/other/sa/bar";

// data-plane.md §4.3: CreateCertificate with a bearer token; the node comes from the token, the identity from
// the CSR, and the CA signs only identities on that node.
describe("CreateCertificate over gRPC/TLS", () => {
  let ca: MeshCa;
  let service: CertificateService;
  let tokenA: string;
  const clients: GrpcCertificateClient[] = [];
  const client = (token: string) => {
    const c = new GrpcCertificateClient({ address: `127.0.0.1:${service.port}`, rootPem: ca.rootPem, token });
    clients.push(c);
    return c;
  };

  before(async () => {
    const placement = new Map([
      [FOO, "node-a"],
      [BAR, "node-b"],
    ]);
    ca = await MeshCa.generate({ authorizer: (node, id) => placement.get(id) === node });
    tokenA = ca.registerNode("node-a");
    service = new CertificateService({ ca });
    await service.start();
  });

  after(async () => {
    for (const c of clients) c.close();
    await service.stop();
  });

  it("a registered node obtains a certificate for a workload on it", async () => {
    const { csrPem } = await createCsr(FOO);
    const chain = await client(tokenA).createCertificate(csrPem, 3600, FOO);
    assert.equal(chain.length, 2);
    const leaf = new X509Certificate(chain[0]!);
    assert.equal(leaf.subjectAltName, `URI:${FOO}`);
    assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 3600_000);
  });

  it("a wrong token is UNAUTHENTICATED", async () => {
    const { csrPem } = await createCsr(FOO);
    await assert.rejects(client("not-a-token").createCertificate(csrPem, 3600, FOO), (e) =>
      isAmbitError(e, "AMBIT_CA_UNAUTHENTICATED"),
    );
  });

  it("a missing token is UNAUTHENTICATED at the gRPC level", async () => {
    const { csrPem } = await createCsr(FOO);
    const raw = new grpc.Client(`127.0.0.1:${service.port}`, grpc.credentials.createSsl(Buffer.from(ca.rootPem)));
    try {
      const code = await new Promise<number | undefined>((resolve) =>
        raw.makeUnaryRequest(
          CREATE_CERTIFICATE_PATH,
          encodeRequest,
          decodeResponse,
          { csr: csrPem, validityDuration: 60, metadata: {} },
          new grpc.Metadata(),
          (err) => resolve(err?.code),
        ),
      );
      assert.equal(code, grpc.status.UNAUTHENTICATED);
    } finally {
      raw.close();
    }
  });

  it("asking for another node's identity is refused as impersonation", async () => {
    const { csrPem } = await createCsr(BAR);
    await assert.rejects(
      client(tokenA).createCertificate(csrPem, 3600, BAR),
      (e) => isAmbitError(e, "AMBIT_CA_IMPERSONATION") && e.message.includes('node "node-a"'),
    );
  });

  it("ImpersonatedIdentity that differs from the CSR is rejected", async () => {
    const { csrPem } = await createCsr(BAR);
    await assert.rejects(client(tokenA).createCertificate(csrPem, 3600, FOO), (e) =>
      isAmbitError(e, "AMBIT_CA_CSR_INVALID"),
    );
  });
});
