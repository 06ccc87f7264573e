// Plug-in CA material for tests: an intermediate signed by a generated root, in Istio's cacerts shape.

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MeshCa, PLUGIN_CA_FILES, type PluginCaPem } from "../../src/identity/ca.js";
import { EC_P256, generateP256, importSigningKey, privateKeyToPem, x509 } from "../../src/identity/x509.js";

const DAY = 86_400_000;
const pem = (c: x509.X509Certificate) => `${c.toString("pem")}\n`;

/** A root and the plug-in files of an intermediate it signed (what `make -f Makefile.selfsigned.mk` produces). */
export async function pluginFiles(root: MeshCa, name: string): Promise<PluginCaPem> {
  const { key: rootKey } = await importSigningKey(await root.exportRootKeyPem());
  const rootCert = new x509.X509Certificate(root.rootPem);
  const keys = await generateP256();
  const now = Date.now();
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8)
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    subject: `O=Istio, CN=Intermediate CA ${name}`,
    issuer: rootCert.subjectName,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    signingAlgorithm: EC_P256,
    publicKey: keys.publicKey,
    signingKey: rootKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
    ],
  });
  return {
    caCert: pem(intermediate),
    caKey: await privateKeyToPem(keys.privateKey),
    certChain: pem(intermediate) + root.rootPem,
    rootCert: root.rootPem,
  };
}

/** Writes the files into `dir` under istiod's names. */
export function writePluginDir(dir: string, files: PluginCaPem): void {
  mkdirSync(dir, { recursive: true });
  for (const [k, name] of Object.entries(PLUGIN_CA_FILES))
    writeFileSync(join(dir, name), files[k as keyof PluginCaPem]);
}
