// The mesh CA: signs workload certificates for SPIFFE identities from node agents' CSRs, and only for
// identities the injected Authorizer places on the calling node (data-plane.md §4.3 "Impersonation").

import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { AmbitError } from "../errors.js";
import { verifiedCsr } from "./csr.js";
import { DEFAULT_TRUST_DOMAIN, formatSpiffeId, isValidTrustDomain, parseSpiffeId } from "./spiffe.js";
import {
  type CryptoKey,
  EC_P256,
  generateP256,
  importSigningKey,
  privateKeyToPem,
  type SigningAlgorithm,
  splitPemBundle,
  subtle,
  x509,
} from "./x509.js";

/** `true` allows; `false` or a reason string refuses. */
export type Authorizer = (node: string, identity: string) => boolean | string;

export interface MeshCaOptions {
  /** Default `cluster.local`. */
  trustDomain?: string;
  /** Lifetime of issued workload certificates when the request names none. Default 24 h (SECRET_TTL). */
  defaultTtlMs?: number;
  /** Upper bound on a requested lifetime. Default 90 days. */
  maxTtlMs?: number;
  /** Decides which identities a node may obtain. Default: refuse everything. */
  authorizer?: Authorizer;
  /** Injected clock (ms since epoch) so tests can issue certificates in the past. */
  now?: () => number;
}

export interface GenerateRootOptions extends MeshCaOptions {
  /** Root lifetime. Default 10 years. */
  rootTtlMs?: number;
}

/**
 * Istio's plug-in CA (the `cacerts` secret): the CA that signs, its key, that CA's chain (itself first, then any
 * intermediates, usually ending with the root) and the root the mesh trusts.
 */
export interface PluginCaPem {
  /** `ca-cert.pem` */
  caCert: string;
  /** `ca-key.pem` */
  caKey: string;
  /** `cert-chain.pem` */
  certChain: string;
  /** `root-cert.pem` */
  rootCert: string;
}

/** The file names of a plug-in CA folder, as istiod reads them from `/etc/cacerts`. */
export const PLUGIN_CA_FILES: Readonly<Record<keyof PluginCaPem, string>> = {
  caCert: "ca-cert.pem",
  caKey: "ca-key.pem",
  certChain: "cert-chain.pem",
  rootCert: "root-cert.pem",
};

export interface SignRequest {
  /** The node asking (taken from its authenticated token, never from the request body). */
  node: string;
  /** The identity requested; must equal the CSR's only URI SAN. */
  identity: string;
  /** Requested lifetime; clamped to the CA's maximum and the root's expiry. */
  ttlMs?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BACKDATE_MS = 0;

export class MeshCa {
  readonly trustDomain: string;
  /** The root certificate, PEM: the mesh trust bundle. */
  readonly rootPem: string;
  authorizer: Authorizer;
  /** The certificate that signs: the root itself, or a plug-in intermediate. */
  readonly #signer: x509.X509Certificate;
  /** What follows a leaf in an issued chain: the signer's chain up to and including the root, PEM. */
  readonly #chainAfterLeaf: string[];
  readonly #key: CryptoKey;
  readonly #algorithm: SigningAlgorithm;
  readonly #defaultTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #now: () => number;
  readonly #nodeByTokenHash = new Map<string, string>();
  readonly #tokenHashByNode = new Map<string, string>();

  private constructor(
    signer: x509.X509Certificate,
    key: CryptoKey,
    algorithm: SigningAlgorithm,
    opts: MeshCaOptions,
    chain: { afterLeaf: string[]; rootPem: string } = { afterLeaf: [pem(signer)], rootPem: pem(signer) },
  ) {
    const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    if (!isValidTrustDomain(trustDomain)) {
      throw new AmbitError("AMBIT_CA_CONFIG", `invalid trust domain "${trustDomain}"`);
    }
    this.trustDomain = trustDomain;
    this.#signer = signer;
    this.#chainAfterLeaf = chain.afterLeaf;
    this.rootPem = chain.rootPem;
    this.#key = key;
    this.#algorithm = algorithm;
    this.#defaultTtlMs = opts.defaultTtlMs ?? DAY;
    this.#maxTtlMs = opts.maxTtlMs ?? 90 * DAY;
    this.#now = opts.now ?? Date.now;
    this.authorizer = opts.authorizer ?? (() => "no authorizer is configured on the CA");
  }

  /** A new self-signed ECDSA P-256 root. */
  static async generate(opts: GenerateRootOptions = {}): Promise<MeshCa> {
    const keys = await generateP256();
    const now = (opts.now ?? Date.now)();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `O=Ambit, CN=Ambit mesh root ${opts.trustDomain ?? DEFAULT_TRUST_DOMAIN}`,
      notBefore: new Date(now),
      notAfter: new Date(now + (opts.rootTtlMs ?? 3650 * DAY)),
      keys,
      signingAlgorithm: EC_P256,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const ca = new MeshCa(root, keys.privateKey, EC_P256, opts);
    ca.#exportKey = () => privateKeyToPem(keys.privateKey);
    return ca;
  }

  /** Loads an existing root (certificate and ECDSA key, PEM). */
  static async fromPem(certPem: string, keyPem: string, opts: MeshCaOptions = {}): Promise<MeshCa> {
    const root = new x509.X509Certificate(certPem);
    const { key, algorithm } = await signingKeyFor(root, keyPem, "the CA certificate");
    return new MeshCa(root, key, algorithm, opts);
  }

  /**
   * Loads a plug-in CA: workload certificates are signed by `caCert` (an intermediate) and carry its chain, while
   * the mesh trusts `rootCert`. Every link is checked: the signer is a CA, the key is its key, each certificate of
   * the chain is signed by the next, and the chain ends at (or is signed by) the root.
   */
  static async fromPlugin(files: PluginCaPem, opts: MeshCaOptions = {}): Promise<MeshCa> {
    const signer = parseOne(files.caCert, PLUGIN_CA_FILES.caCert);
    const root = parseOne(files.rootCert, PLUGIN_CA_FILES.rootCert);
    const { key, algorithm } = await signingKeyFor(signer, files.caKey, PLUGIN_CA_FILES.caCert);
    const chain = splitPemBundle(files.certChain).map((p) => new x509.X509Certificate(p));
    if (chain.length === 0) chain.push(signer);
    if (!sameCert(chain[0]!, signer)) {
      throw new AmbitError(
        "AMBIT_CA_CONFIG",
        `${PLUGIN_CA_FILES.certChain} must start with the certificate of ${PLUGIN_CA_FILES.caCert}`,
      );
    }
    if (!sameCert(chain[chain.length - 1]!, root)) chain.push(root);
    if (!(await root.verify({ publicKey: root.publicKey, signatureOnly: true }))) {
      throw new AmbitError("AMBIT_CA_CONFIG", `${PLUGIN_CA_FILES.rootCert} is not a self-signed root`);
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const issuer = chain[i + 1]!;
      if (!issuer.getExtension(x509.BasicConstraintsExtension)?.ca) {
        throw new AmbitError("AMBIT_CA_CONFIG", `${issuer.subject} in the CA chain is not a CA (basicConstraints)`);
      }
      if (!(await chain[i]!.verify({ publicKey: issuer.publicKey, signatureOnly: true }))) {
        throw new AmbitError(
          "AMBIT_CA_CONFIG",
          `${chain[i]!.subject} is not signed by ${issuer.subject}: the chain does not lead to ${PLUGIN_CA_FILES.rootCert}`,
        );
      }
    }
    return new MeshCa(signer, key, algorithm, opts, { afterLeaf: chain.map(pem), rootPem: pem(root) });
  }

  /** A plug-in CA from a folder laid out as Istio's `cacerts` secret (PLUGIN_CA_FILES). */
  static async fromPluginDir(dir: string, opts: MeshCaOptions = {}): Promise<MeshCa> {
    const read = async (name: string) => {
      try {
        return await readFile(join(dir, name), "utf8");
      } catch (e) {
        throw new AmbitError("AMBIT_CA_CONFIG", `cannot read the plug-in CA file ${join(dir, name)}: ${String(e)}`);
      }
    };
    const [caCert, caKey, certChain, rootCert] = await Promise.all(
      [PLUGIN_CA_FILES.caCert, PLUGIN_CA_FILES.caKey, PLUGIN_CA_FILES.certChain, PLUGIN_CA_FILES.rootCert].map(read),
    );
    return MeshCa.fromPlugin({ caCert: caCert!, caKey: caKey!, certChain: certChain!, rootCert: rootCert! }, opts);
  }

  static async fromFiles(certPath: string, keyPath: string, opts: MeshCaOptions = {}): Promise<MeshCa> {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return MeshCa.fromPem(cert, key, opts);
  }

  #exportKey: (() => Promise<string>) | undefined;

  /** The root key as PKCS#8 PEM, to persist a generated root. Only for roots this process generated. */
  async exportRootKeyPem(): Promise<string> {
    if (!this.#exportKey) throw new AmbitError("AMBIT_CA_CONFIG", "the root key was loaded, not generated here");
    return this.#exportKey();
  }

  /** Issues a node's bearer token; registering again replaces the node's previous token. */
  registerNode(node: string): string {
    if (!node) throw new AmbitError("AMBIT_CA_CONFIG", "node name must not be empty");
    this.unregisterNode(node);
    const token = randomBytes(32).toString("base64url");
    const h = hashToken(token);
    this.#nodeByTokenHash.set(h, node);
    this.#tokenHashByNode.set(node, h);
    return token;
  }

  unregisterNode(node: string): void {
    const h = this.#tokenHashByNode.get(node);
    if (h === undefined) return;
    this.#nodeByTokenHash.delete(h);
    this.#tokenHashByNode.delete(node);
  }

  /** The node a token was issued to, or undefined. Tokens are stored only as hashes. */
  nodeForToken(token: string): string | undefined {
    return this.#nodeByTokenHash.get(hashToken(token));
  }

  /**
   * Signs a PKCS#10 CSR for `identity` on behalf of `node`. Returns the chain leaf first, root last
   * (the `cert_chain` of IstioCertificateResponse).
   */
  async sign(csrPem: string, req: SignRequest): Promise<string[]> {
    const id = parseSpiffeId(req.identity);
    if (id.trustDomain !== this.trustDomain) {
      throw new AmbitError(
        "AMBIT_CA_TRUST_DOMAIN",
        `identity ${req.identity} is outside this CA's trust domain "${this.trustDomain}"`,
      );
    }
    const { request: csr, sans } = await verifiedCsr(csrPem);
    if (sans.length !== 1 || sans[0] !== req.identity) {
      throw new AmbitError(
        "AMBIT_CA_CSR_INVALID",
        `the CSR's SAN (${sans.join(", ") || "none"}) must be exactly the requested identity ${req.identity}`,
      );
    }
    const verdict = this.authorizer(req.node, req.identity);
    if (verdict !== true) {
      const why = typeof verdict === "string" ? `: ${verdict}` : "";
      throw new AmbitError(
        "AMBIT_CA_IMPERSONATION",
        `node "${req.node}" may not obtain a certificate for ${req.identity}${why}`,
      );
    }
    const now = this.#now();
    const ttl = Math.min(req.ttlMs && req.ttlMs > 0 ? req.ttlMs : this.#defaultTtlMs, this.#maxTtlMs);
    const notAfter = Math.min(now + ttl, this.#signer.notAfter.getTime());
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: "",
      issuer: this.#signer.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      signingAlgorithm: this.#algorithm,
      publicKey: csr.publicKey,
      signingKey: this.#key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: formatSpiffeId(id) }], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.#signer.publicKey),
      ],
    });
    return [pem(leaf), ...this.#chainAfterLeaf];
  }

  /** A TLS serving certificate for the CA's own endpoint (DNS names and IPs as SANs). */
  async issueServingCertificate(hosts: string[], ttlMs = 365 * DAY): Promise<{ keyPem: string; certPem: string }> {
    const keys = await generateP256();
    const now = this.#now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${hosts[0] ?? "ambit-ca"}`,
      issuer: this.#signer.subjectName,
      notBefore: new Date(now),
      notAfter: new Date(Math.min(now + ttlMs, this.#signer.notAfter.getTime())),
      signingAlgorithm: this.#algorithm,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((h) => (isIP(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(this.#signer.publicKey),
      ],
    });
    return { keyPem: await privateKeyToPem(keys.privateKey), certPem: [pem(cert), ...this.#chainAfterLeaf].join("") };
  }
}

const pem = (c: x509.X509Certificate) => `${c.toString("pem")}\n`;

function parseOne(text: string, what: string): x509.X509Certificate {
  const [first] = splitPemBundle(text);
  if (!first) throw new AmbitError("AMBIT_CA_CONFIG", `${what} holds no PEM certificate`);
  return new x509.X509Certificate(first);
}

function sameCert(a: x509.X509Certificate, b: x509.X509Certificate): boolean {
  return Buffer.from(a.rawData).equals(Buffer.from(b.rawData));
}

/** Imports the CA key and checks that `cert` is a CA whose public key matches it. */
async function signingKeyFor(
  cert: x509.X509Certificate,
  keyPem: string,
  what: string,
): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new AmbitError("AMBIT_CA_CONFIG", `${what} is not a CA (basicConstraints)`);
  const { key, algorithm } = await importSigningKey(keyPem);
  const probe = new Uint8Array([1]);
  const sig = await subtle.sign(algorithm, key, probe);
  const pub = await cert.publicKey.export(algorithm, ["verify"]);
  if (!(await subtle.verify(algorithm, pub, sig, probe))) {
    throw new AmbitError("AMBIT_CA_CONFIG", `the CA key does not match ${what}`);
  }
  return { key, algorithm };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
