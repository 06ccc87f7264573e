// `ambit check --request FILE`: one enforcement point, asked directly, for scripts. The file names the point
// (waypoint or ztunnel) and the request as that point would see it; the policies are found as the point finds
// them (policy.md §0): at a waypoint those attached to it or to the destination service, at ztunnel the global,
// namespace and selector policies for the destination's labels.
import { readFileSync } from "node:fs";
import { AmbitError } from "../errors.js";
import type { MeshModel } from "../mesh/model.js";
import type { ServiceState } from "../mesh/types.js";
import type { HttpAttributes } from "../policy/request.js";
import { evaluateAtWaypoint, evaluateAtZtunnel, type JwtInput, type Verdict } from "./check-enforce.js";

export interface RequestFile {
  enforcement: "waypoint" | "ztunnel";
  waypoint?: string;
  source: { principal: string | null; namespace?: string; ip: string; remoteIp?: string };
  destination: {
    ip: string;
    port: number;
    namespace: string;
    service?: string;
    labels?: Record<string, string>;
  };
  http: HttpAttributes | null;
  jwt: JwtInput;
  extAuthzResponse?: "ALLOW" | "DENY";
}

function bad(field: string, message: string): AmbitError {
  return new AmbitError("AMBIT_CLI_UNREADABLE", `request file: ${field} ${message}`);
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Json, key: string, field: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v === "") throw bad(`${field}.${key}`, "must be a non-empty string");
  return v;
}

function obj(o: Json, key: string, field: string): Json {
  const v = o[key];
  if (!isObject(v)) throw bad(field ? `${field}.${key}` : key, "must be an object");
  return v;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (!isObject(v)) throw bad(field, "must be an object of strings");
  for (const [k, x] of Object.entries(v)) if (typeof x !== "string") throw bad(`${field}.${k}`, "must be a string");
  return v as Record<string, string>;
}

function parseHttp(v: unknown): HttpAttributes | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw bad("http", "must be an object or null");
  const headers: Record<string, string | string[]> = {};
  if (v.headers !== undefined) {
    if (!isObject(v.headers)) throw bad("http.headers", "must be an object");
    for (const [k, x] of Object.entries(v.headers)) {
      if (typeof x === "string" || (Array.isArray(x) && x.every((y) => typeof y === "string"))) {
        headers[k.toLowerCase()] = x as string | string[];
      } else throw bad(`http.headers.${k}`, "must be a string or an array of strings");
    }
  }
  return {
    method: str(v, "method", "http")!,
    path: str(v, "path", "http")!,
    host: str(v, "host", "http")!,
    headers,
  };
}

function parseJwt(v: unknown): JwtInput {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw bad("jwt", "must be an object or null");
  if ("token" in v) return { token: str(v, "token", "jwt")! };
  if (!isObject(v.claims)) throw bad("jwt", 'needs "token" (a compact JWT) or "claims" (an object) with "valid"');
  if (typeof v.valid !== "boolean") throw bad("jwt.valid", "must be true or false");
  return { claims: v.claims, valid: v.valid };
}

export function parseRequestFile(text: string): RequestFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AmbitError("AMBIT_CLI_UNREADABLE", `request file is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw bad("(top level)", "must be a JSON object");
  const enforcement = doc.enforcement;
  if (enforcement !== "waypoint" && enforcement !== "ztunnel")
    throw bad("enforcement", 'must be "waypoint" or "ztunnel"');
  const s = obj(doc, "source", "");
  if (s.principal !== null && typeof s.principal !== "string")
    throw bad("source.principal", "must be a string or null");
  const d = obj(doc, "destination", "");
  const port = d.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw bad("destination.port", "must be an integer from 0 to 65535");
  }
  const ext = doc.extAuthzResponse;
  if (ext !== undefined && ext !== "ALLOW" && ext !== "DENY")
    throw bad("extAuthzResponse", 'must be "ALLOW" or "DENY"');
  const req: RequestFile = {
    enforcement,
    source: { principal: s.principal as string | null, ip: str(s, "ip", "source")! },
    destination: { ip: str(d, "ip", "destination")!, port, namespace: str(d, "namespace", "destination")! },
    http: parseHttp(doc.http),
    jwt: parseJwt(doc.jwt),
  };
  const ns = str(s, "namespace", "source", true);
  if (ns) req.source.namespace = ns;
  const remote = str(s, "remoteIp", "source", true);
  if (remote) req.source.remoteIp = remote;
  const service = str(d, "service", "destination", true);
  if (service) req.destination.service = service;
  if (d.labels !== undefined) req.destination.labels = stringMap(d.labels, "destination.labels");
  const wp = str(doc, "waypoint", "", true);
  if (wp) {
    if (!/^[^/]+\/[^/]+$/.test(wp)) throw bad("waypoint", 'must be "namespace/name"');
    req.waypoint = wp;
  }
  if (ext) req.extAuthzResponse = ext;
  return req;
}

export function readRequestFile(path: string, stdin: () => string = () => readFileSync(0, "utf8")): RequestFile {
  let text: string;
  try {
    text = path === "-" ? stdin() : readFileSync(path, "utf8");
  } catch (e) {
    throw new AmbitError("AMBIT_CLI_UNREADABLE", `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseRequestFile(text);
}

function serviceByHost(model: MeshModel, host: string): ServiceState {
  const bare = host.replace(/:\d+$/, "");
  const svc = model.services().find((s) => s.hostnames.includes(bare));
  if (!svc) throw bad("destination.service", `"${host}": no Service or ServiceEntry has this hostname`);
  return svc;
}

export async function evaluateRequestFile(model: MeshModel, req: RequestFile): Promise<Verdict> {
  if (req.enforcement === "ztunnel") {
    const v = evaluateAtZtunnel(model, {
      principal: req.source.principal,
      sourceIp: req.source.ip,
      destinationIp: req.destination.ip,
      port: req.destination.port,
      namespace: req.destination.namespace,
      labels: req.destination.labels ?? {},
    });
    if (req.http) v.notes.push("http is ignored: ztunnel is L4 and never sees HTTP");
    if (req.jwt) v.notes.push("jwt is ignored: ztunnel has no L7, a token is never validated there");
    return v;
  }
  const key = req.waypoint ?? `${req.destination.namespace}/waypoint`;
  const [ns, name] = key.split("/") as [string, string];
  const wp = model.waypoint(ns, name);
  if (!wp) {
    const known = model.waypoints().map((w) => `${w.namespace}/${w.name}`);
    throw bad(
      "waypoint",
      `"${key}" is not a waypoint in the input${known.length ? ` (waypoints: ${known.sort().join(", ")})` : ""}`,
    );
  }
  const service = req.destination.service ? serviceByHost(model, req.destination.service) : undefined;
  const destination = { ...req.destination, service: service ? `${service.namespace}/${service.name}` : undefined };
  return evaluateAtWaypoint(model, wp, service, {
    source: req.source,
    destination,
    http: req.http,
    jwt: req.jwt,
    extAuthz: req.extAuthzResponse,
  });
}
