// A node agent's certificate manager: one certificate per workload identity on the node, fetched through a
// CertificateClient, cached, renewed at half-life, never handed out once expired (data-plane.md §4.3 "Lifecycle").

import { X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import { AmbitError } from "../errors.js";
import { createCsr } from "./csr.js";
import { parseSpiffeId } from "./spiffe.js";

/** How the manager reaches a CA: Istio's CreateCertificate (csr + validity) → chain, leaf first, root last. */
export interface CertificateClient {
  createCertificate(csrPem: string, validitySeconds: number, identity: string): Promise<string[]>;
}

export interface WorkloadCertificate {
  identity: string;
  keyPem: string;
  /** Leaf then intermediates, PEM: what TLS presents. */
  certChainPem: string;
  /** The trust bundle (the chain's last certificate). */
  rootPem: string;
  notBefore: number;
  notAfter: number;
}

/** Timers and time, injectable so tests can step through a day without waiting for it. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface CertificateManagerOptions {
  client: CertificateClient;
  /** Requested lifetime. Default 24 h (SECRET_TTL). */
  ttlSeconds?: number;
  clock?: Clock;
  /** Retry backoff after a failed fetch: doubles from `initial` up to `max`. Default 1 s → 150 s. */
  backoff?: { initialMs: number; maxMs: number };
}

export interface CertificateManagerEvents {
  /** A certificate was obtained for an identity (first fetch or renewal). */
  rotated: [cert: WorkloadCertificate, previous: WorkloadCertificate | undefined];
  /** A fetch failed; it will be retried with backoff while the identity is wanted. */
  fetchFailed: [identity: string, error: unknown];
}

interface Entry {
  cert: WorkloadCertificate | undefined;
  inflight: Promise<WorkloadCertificate> | undefined;
  timer: unknown;
  failures: number;
}

export class CertificateManager extends EventEmitter<CertificateManagerEvents> {
  readonly #client: CertificateClient;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #entries = new Map<string, Entry>();
  #stopped = false;

  constructor(opts: CertificateManagerOptions) {
    super();
    this.#client = opts.client;
    this.#ttlSeconds = opts.ttlSeconds ?? 86_400;
    this.#clock = opts.clock ?? systemClock;
    this.#backoff = opts.backoff ?? { initialMs: 1_000, maxMs: 150_000 };
  }

  /** Starts fetching in the background (a workload with this identity appeared on the node). */
  add(identity: string): void {
    if (this.#entries.has(identity)) return;
    this.get(identity).catch(() => {
      // Failure is reported through "fetchFailed" and retried; a caller that needs the cert awaits get().
    });
  }

  /** Forgets an identity (its last workload left the node): no more renewals. */
  remove(identity: string): void {
    const e = this.#entries.get(identity);
    if (!e) return;
    this.#clock.clearTimeout(e.timer);
    this.#entries.delete(identity);
  }

  /** A valid certificate, fetching now if there is none or it has expired. Concurrent callers share one fetch. */
  get(identity: string): Promise<WorkloadCertificate> {
    if (this.#stopped) return Promise.reject(new AmbitError("AMBIT_CERT_STOPPED", "certificate manager is stopped"));
    parseSpiffeId(identity);
    let e = this.#entries.get(identity);
    if (!e) {
      e = { cert: undefined, inflight: undefined, timer: undefined, failures: 0 };
      this.#entries.set(identity, e);
    }
    const valid = this.#valid(e.cert);
    if (valid) return Promise.resolve(valid);
    return this.#fetch(identity, e);
  }

  /** The cached certificate if it is still valid now; never an expired one. Synchronous, for TLS callbacks. */
  peek(identity: string): WorkloadCertificate | undefined {
    return this.#valid(this.#entries.get(identity)?.cert);
  }

  identities(): string[] {
    return [...this.#entries.keys()];
  }

  stop(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) this.#clock.clearTimeout(e.timer);
    this.#entries.clear();
  }

  #valid(cert: WorkloadCertificate | undefined): WorkloadCertificate | undefined {
    return cert && this.#clock.now() < cert.notAfter ? cert : undefined;
  }

  #fetch(identity: string, e: Entry): Promise<WorkloadCertificate> {
    if (e.inflight) return e.inflight;
    const p = this.#request(identity).then(
      (cert) => {
        e.inflight = undefined;
        if (this.#entries.get(identity) !== e) return cert;
        const previous = e.cert;
        e.cert = cert;
        e.failures = 0;
        // Renew at half-life (Istio's refresh_at).
        this.#schedule(identity, e, cert.notBefore + (cert.notAfter - cert.notBefore) / 2 - this.#clock.now());
        this.emit("rotated", cert, previous);
        return cert;
      },
      (err: unknown) => {
        e.inflight = undefined;
        if (this.#entries.get(identity) === e) {
          const delay = Math.min(this.#backoff.initialMs * 2 ** e.failures, this.#backoff.maxMs);
          e.failures++;
          this.#schedule(identity, e, delay);
          this.emit("fetchFailed", identity, err);
        }
        throw err;
      },
    );
    e.inflight = p;
    return p;
  }

  #schedule(identity: string, e: Entry, delayMs: number): void {
    this.#clock.clearTimeout(e.timer);
    e.timer = this.#clock.setTimeout(
      () => {
        e.timer = undefined;
        if (this.#entries.get(identity) === e) this.#fetch(identity, e).catch(() => {});
      },
      Math.max(0, delayMs),
    );
  }

  async #request(identity: string): Promise<WorkloadCertificate> {
    const { keyPem, csrPem } = await createCsr(identity);
    const chain = await this.#client.createCertificate(csrPem, this.#ttlSeconds, identity);
    const leafPem = chain[0];
    if (!leafPem) throw new AmbitError("AMBIT_CERT_BAD_RESPONSE", `the CA returned no certificate for ${identity}`);
    const leaf = new X509Certificate(leafPem);
    // Like ztunnel, check the CA really issued the identity we asked for.
    if (!leaf.subjectAltName?.split(", ").includes(`URI:${identity}`)) {
      throw new AmbitError("AMBIT_CERT_BAD_RESPONSE", `the CA returned a certificate that is not for ${identity}`);
    }
    const rootPem = chain.length > 1 ? chain[chain.length - 1]! : "";
    const intermediates = chain.slice(1, -1);
    return {
      identity,
      keyPem,
      certChainPem: [leafPem, ...intermediates].map((c) => (c.endsWith("\n") ? c : `${c}\n`)).join(""),
      rootPem,
      notBefore: Date.parse(leaf.validFrom),
      notAfter: Date.parse(leaf.validTo),
    };
  }
}
