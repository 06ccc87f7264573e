// Wire encoding of istio.v1.auth.IstioCertificateService's two messages, by hand: they are tiny, and the field
// numbers are Istio's (data-plane.md §4.3): request {csr = 1, validity_duration = 2 (seconds), metadata = 3
// (google.protobuf.Struct)}, response {cert_chain = 1 (repeated)}.

import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

export const CREATE_CERTIFICATE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

export interface IstioCertificateRequest {
  csr: string;
  validityDuration: number;
  /** Only string values of the Struct are kept (Istio sends `ImpersonatedIdentity`). */
  metadata: Record<string, string>;
}

export interface IstioCertificateResponse {
  certChain: string[];
}

export function encodeRequest(req: IstioCertificateRequest): Buffer {
  const w = new BinaryWriter();
  if (req.csr) w.tag(1, WireType.LengthDelimited).string(req.csr);
  if (req.validityDuration) w.tag(2, WireType.Varint).int64(req.validityDuration);
  const entries = Object.entries(req.metadata);
  if (entries.length > 0) {
    w.tag(3, WireType.LengthDelimited).fork();
    for (const [k, v] of entries) {
      // Struct.fields is map<string, Value>: entry {key = 1, value = 2}; Value.string_value = 3.
      w.tag(1, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(k);
      w.tag(2, WireType.LengthDelimited).fork().tag(3, WireType.LengthDelimited).string(v).join();
      w.join();
    }
    w.join();
  }
  return Buffer.from(w.finish());
}

export function decodeRequest(buf: Uint8Array): IstioCertificateRequest {
  const r = new BinaryReader(buf);
  const req: IstioCertificateRequest = { csr: "", validityDuration: 0, metadata: {} };
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === 1 && type === WireType.LengthDelimited) req.csr = r.string();
    else if (no === 2 && type === WireType.Varint) req.validityDuration = Number(r.int64());
    else if (no === 3 && type === WireType.LengthDelimited) decodeStruct(r.bytes(), req.metadata);
    else r.skip(type, no);
  }
  return req;
}

function decodeStruct(buf: Uint8Array, into: Record<string, string>): void {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no !== 1 || type !== WireType.LengthDelimited) {
      r.skip(type, no);
      continue;
    }
    const entry = new BinaryReader(r.bytes());
    let key = "";
    let value: string | undefined;
    while (entry.pos < entry.len) {
      const [eno, etype] = entry.tag();
      if (eno === 1 && etype === WireType.LengthDelimited) key = entry.string();
      else if (eno === 2 && etype === WireType.LengthDelimited) value = decodeStringValue(entry.bytes());
      else entry.skip(etype, eno);
    }
    if (value !== undefined) into[key] = value;
  }
}

function decodeStringValue(buf: Uint8Array): string | undefined {
  const r = new BinaryReader(buf);
  let value: string | undefined;
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === 3 && type === WireType.LengthDelimited) value = r.string();
    else r.skip(type, no);
  }
  return value;
}

export function encodeResponse(res: IstioCertificateResponse): Buffer {
  const w = new BinaryWriter();
  for (const c of res.certChain) w.tag(1, WireType.LengthDelimited).string(c);
  return Buffer.from(w.finish());
}

export function decodeResponse(buf: Uint8Array): IstioCertificateResponse {
  const r = new BinaryReader(buf);
  const res: IstioCertificateResponse = { certChain: [] };
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === 1 && type === WireType.LengthDelimited) res.certChain.push(r.string());
    else r.skip(type, no);
  }
  return res;
}
