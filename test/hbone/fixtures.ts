// Certificates for HBONE tests, made by our own CA in the test: workload certs, expired ones, foreign CAs.

import type { CertSource } from "../../src/dataplane/hbone/tls.js";
import { MeshCa } from "../../src/identity/ca.js";
import { createCsr } from "../../src/identity/csr.js";

const DAY = 86_400_000;

export interface TestCa {
  ca: MeshCa;
  /** Moves the CA's clock (ms offset from now) for the next issue. */
  clock: { offsetMs: number };
}

export async function testCa(trustDomain = "cluster.local"): Promise<TestCa> {
  const clock = { offsetMs: -10 * DAY };
  const ca = await MeshCa.generate({
    trustDomain,
    authorizer: () => true,
    now: () => Date.now() + clock.offsetMs,
    rootTtlMs: 3650 * DAY,
  });
  clock.offsetMs = 0;
  return { ca, clock };
}

/** A workload certificate for `identity`; `ageMs` issues it that long ago (48 h makes a 24 h cert expired). */
export async function workloadCert(
  t: TestCa,
  identity: string,
  opts: { ageMs?: number; trust?: string[] } = {},
): Promise<CertSource> {
  const { keyPem, csrPem } = await createCsr(identity);
  t.clock.offsetMs = -(opts.ageMs ?? 0);
  try {
    const chain = await t.ca.sign(csrPem, { node: "test", identity });
    return { key: keyPem, cert: chain[0]!, ca: opts.trust ?? [t.ca.rootPem] };
  } finally {
    t.clock.offsetMs = 0;
  }
}

export const EXPIRED = 2 * DAY;
