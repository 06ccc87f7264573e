// The CA's gRPC endpoint: istio.v1.auth.IstioCertificateService/CreateCertificate over TLS. The caller is
// authenticated by the bearer token its node got at registration; the node comes from the token and the
// identity from the CSR, so a node can only ask for what the CA's Authorizer grants it (data-plane.md §4.3).

import * as grpc from "@grpc/grpc-js";
import { isAmbitError } from "../errors.js";
import type { MeshCa } from "./ca.js";
import {
  CREATE_CERTIFICATE_PATH,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from "./cert-proto.js";
import { csrSans } from "./csr.js";

export const IMPERSONATED_IDENTITY = "ImpersonatedIdentity";

export const certificateServiceDefinition: grpc.ServiceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: IstioCertificateRequest) => encodeRequest(v),
    requestDeserialize: (b: Buffer) => decodeRequest(b),
    responseSerialize: (v: IstioCertificateResponse) => encodeResponse(v),
    responseDeserialize: (b: Buffer) => decodeResponse(b),
    originalName: "createCertificate",
  },
};

export interface CertificateServiceOptions {
  ca: MeshCa;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port); Istio serves it on 15012. */
  port?: number;
  /** Names and IPs the serving certificate covers. Default: the host, "localhost". */
  servingHosts?: string[];
}

export class CertificateService {
  readonly #opts: CertificateServiceOptions;
  #server: grpc.Server | undefined;
  #port = 0;

  constructor(opts: CertificateServiceOptions) {
    this.#opts = opts;
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<number> {
    const { ca } = this.#opts;
    const host = this.#opts.host ?? "127.0.0.1";
    const serving = await ca.issueServingCertificate(this.#opts.servingHosts ?? [host, "localhost"]);
    const creds = grpc.ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certPem) }],
      false,
    );
    const server = new grpc.Server();
    const createCertificate: grpc.handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> = (call, cb) =>
      this.#handle(call, cb);
    server.addService(certificateServiceDefinition, { CreateCertificate: createCertificate });
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${this.#opts.port ?? 0}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.#server = server;
    return this.#port;
  }

  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cuts them. */
  async stop(graceMs = 2_000): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #handle(
    call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
    cb: grpc.sendUnaryData<IstioCertificateResponse>,
  ): void {
    const { ca } = this.#opts;
    const auth = call.metadata.get("authorization")[0];
    const token = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const node = token ? ca.nodeForToken(token) : undefined;
    if (!node) {
      cb({ code: grpc.status.UNAUTHENTICATED, details: "missing or unknown node token" });
      return;
    }
    const req = call.request;
    let identity: string;
    try {
      const sans = csrSans(req.csr);
      if (sans.length !== 1) throw new Error(`the CSR must carry exactly one SAN, found ${sans.length}`);
      identity = sans[0]!;
    } catch (e) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: e instanceof Error ? e.message : String(e) });
      return;
    }
    const impersonated = req.metadata[IMPERSONATED_IDENTITY];
    if (impersonated !== undefined && impersonated !== identity) {
      cb({
        code: grpc.status.INVALID_ARGUMENT,
        details: `${IMPERSONATED_IDENTITY} ${impersonated} differs from the CSR's identity ${identity}`,
      });
      return;
    }
    ca.sign(req.csr, { node, identity, ttlMs: req.validityDuration * 1000 }).then(
      (certChain) => cb(null, { certChain }),
      (e: unknown) => cb({ code: statusFor(e), details: e instanceof Error ? e.message : String(e) }),
    );
  }
}

function statusFor(e: unknown): grpc.status {
  if (isAmbitError(e, "AMBIT_CA_IMPERSONATION")) return grpc.status.PERMISSION_DENIED;
  if (
    isAmbitError(e, "AMBIT_CA_CSR_INVALID") ||
    isAmbitError(e, "AMBIT_CA_TRUST_DOMAIN") ||
    isAmbitError(e, "AMBIT_IDENTITY_INVALID")
  ) {
    return grpc.status.INVALID_ARGUMENT;
  }
  return grpc.status.INTERNAL;
}
