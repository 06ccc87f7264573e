// A workload's key and PKCS#10 request: ECDSA P-256 / SHA-256, the SPIFFE URI as the only SAN, empty subject
// (data-plane.md §4.3 "CSR").

import { AmbitError } from "../errors.js";
import { parseSpiffeId } from "./spiffe.js";
import { EC_P256, generateP256, privateKeyToPem, x509 } from "./x509.js";

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function createCsr(identity: string): Promise<KeyAndCsr> {
  parseSpiffeId(identity);
  const keys = await generateP256();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: EC_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: identity }], true)],
  });
  return { keyPem: await privateKeyToPem(keys.privateKey), csrPem: csr.toString("pem") };
}

/**
 * The CSR's SubjectAltNames, URIs as-is and other kinds as "<type>:<value>", so a caller can insist the identity
 * is the only SAN. Does not check the signature (see `verifiedCsr`).
 */
export function csrSans(csrPem: string): string[] {
  return sansOf(parseCsr(csrPem));
}

/** Parses the CSR and checks its self-signature. */
export async function verifiedCsr(csrPem: string): Promise<{ request: x509.Pkcs10CertificateRequest; sans: string[] }> {
  const request = parseCsr(csrPem);
  if (!(await request.verify())) throw new AmbitError("AMBIT_CA_CSR_INVALID", "the CSR's signature does not verify");
  return { request, sans: sansOf(request) };
}

function parseCsr(pem: string): x509.Pkcs10CertificateRequest {
  try {
    return new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    throw new AmbitError("AMBIT_CA_CSR_INVALID", "the CSR is not a valid PKCS#10 request", { cause: e });
  }
}

function sansOf(csr: x509.Pkcs10CertificateRequest): string[] {
  const ext = csr.getExtension("2.5.29.17");
  if (!ext) return [];
  const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
  return san.names.items.map((n) => (n.type === "url" ? n.value : `${n.type}:${n.value}`));
}
