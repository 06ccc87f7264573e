// The node agent's side of CreateCertificate: a CertificateClient over gRPC/TLS with the node's bearer token,
// asking for each workload identity by impersonation (data-plane.md §4.3).

import * as grpc from "@grpc/grpc-js";
import { AmbitError } from "../errors.js";
import type { CertificateClient } from "./cert-manager.js";
import { CREATE_CERTIFICATE_PATH, decodeResponse, encodeRequest, type IstioCertificateResponse } from "./cert-proto.js";
import { IMPERSONATED_IDENTITY } from "./cert-service.js";

export interface GrpcCertificateClientOptions {
  /** "host:port" of the CA. */
  address: string;
  /** The CA's root (PEM) to verify its serving certificate. */
  rootPem: string;
  /** The node's bearer token from registration. */
  token: string;
  /** Per-call deadline. Default 10 s. */
  timeoutMs?: number;
}

export class GrpcCertificateClient implements CertificateClient {
  readonly #client: grpc.Client;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(opts: GrpcCertificateClientOptions) {
    this.#client = new grpc.Client(opts.address, grpc.credentials.createSsl(Buffer.from(opts.rootPem)));
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  createCertificate(csrPem: string, validitySeconds: number, identity: string): Promise<string[]> {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${this.#token}`);
    const req = { csr: csrPem, validityDuration: validitySeconds, metadata: { [IMPERSONATED_IDENTITY]: identity } };
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        encodeRequest,
        decodeResponse,
        req,
        md,
        { deadline: Date.now() + this.#timeoutMs },
        (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => {
          if (err) reject(new AmbitError(codeFor(err.code), `CreateCertificate for ${identity}: ${err.details}`));
          else resolve(res?.certChain ?? []);
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

function codeFor(status: grpc.status): string {
  switch (status) {
    case grpc.status.UNAUTHENTICATED:
      return "AMBIT_CA_UNAUTHENTICATED";
    case grpc.status.PERMISSION_DENIED:
      return "AMBIT_CA_IMPERSONATION";
    case grpc.status.INVALID_ARGUMENT:
      return "AMBIT_CA_CSR_INVALID";
    default:
      return "AMBIT_CA_UNAVAILABLE";
  }
}
