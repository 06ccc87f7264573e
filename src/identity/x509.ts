// The one place that wires @peculiar/x509 to Node's WebCrypto and converts keys between PEM and CryptoKey.
// reflect-metadata must be loaded before @peculiar/x509 (its ASN.1 schema uses decorators).

import "reflect-metadata";
import { createPrivateKey, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const subtle = webcrypto.subtle;

export const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export type SigningAlgorithm = webcrypto.EcdsaParams & webcrypto.EcKeyImportParams;

export async function generateP256(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey("pkcs8", key));
  return toPem("PRIVATE KEY", der);
}

export function toPem(label: string, der: Buffer): string {
  const body = der.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}${body.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/**
 * Imports a PEM private key (PKCS#8 or SEC1 "EC PRIVATE KEY") for signing. Only ECDSA P-256 and P-384 are
 * accepted: the mesh's keys are ECDSA (data-plane.md §4.3).
 */
export async function importSigningKey(pem: string): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const nodeKey = createPrivateKey(pem);
  const curve = nodeKey.asymmetricKeyDetails?.namedCurve;
  const algorithm: SigningAlgorithm | undefined =
    nodeKey.asymmetricKeyType !== "ec"
      ? undefined
      : curve === "prime256v1"
        ? { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" }
        : curve === "secp384r1"
          ? { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" }
          : undefined;
  if (!algorithm) throw new Error(`unsupported CA key type ${nodeKey.asymmetricKeyType} ${curve ?? ""}`.trim());
  const der = nodeKey.export({ type: "pkcs8", format: "der" });
  const key = await subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
  return { key, algorithm };
}

/** Splits a PEM bundle into its certificates, in order. */
export function splitPemBundle(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}
