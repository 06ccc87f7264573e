// Admission rules for the security policy kinds (Istio's webhook validation; policy.md §1.1, §2.1, §3).
// The loader turns each FieldError into a diagnostic at the field's file:line. Selector/targetRefs exclusivity and
// targetRef kinds are checked elsewhere for every policy kind.

import type { FieldError, SpecValidators } from "../api/validate.js";
import { parseBracketPath } from "./claims.js";
import { parseCidr } from "./ip.js";
import { containsPathTemplate, pathTemplateError } from "./path.js";

type Obj = Record<string, unknown>;

const ACTIONS = ["ALLOW", "DENY", "AUDIT", "CUSTOM"];
const MTLS_MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"];
const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
];
const OPERATION_FIELDS = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"];
const PLAIN_WHEN_KEYS = new Set([
  "source.ip",
  "remote.ip",
  "source.namespace",
  "source.principal",
  "source.serviceAccount",
  "source.trustDomain",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.ip",
  "destination.port",
  "connection.sni",
]);
const CUSTOM_FORBIDDEN_SOURCE = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "requestPrincipals",
  "notRequestPrincipals",
];
const CUSTOM_FORBIDDEN_WHEN = ["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"];
const MAX_RULES = 512;
const MAX_SERVICE_ACCOUNTS = 16;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Errors {
  readonly list: FieldError[] = [];
  add(path: string, message: string) {
    this.list.push({ path, message });
  }
}

/** A string list: must be an array of non-empty strings. Returns the strings (possibly empty). */
function strings(e: Errors, v: unknown, path: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    e.add(path, "must be a list of strings");
    return [];
  }
  const out: string[] = [];
  v.forEach((s, i) => {
    if (typeof s !== "string") e.add(`${path}.${i}`, "must be a string");
    else if (s.length === 0) e.add(`${path}.${i}`, "empty value is not allowed");
    else out.push(s);
  });
  return out;
}

function portError(v: string): string | undefined {
  if (!/^\d+$/.test(v) || Number(v) > 65535) return `invalid port "${v}": must be a decimal number in 0-65535`;
  return undefined;
}

function ipError(v: string): string | undefined {
  return parseCidr(v) ? undefined : `invalid IP address or CIDR range "${v}"`;
}

function trustDomainError(v: string): string | undefined {
  const stars = v.split("*").length - 1;
  if (v.includes("/")) return `trust domain "${v}" must not contain "/"`;
  if (stars > 1 || (stars === 1 && !v.startsWith("*") && !v.endsWith("*"))) {
    return `trust domain "${v}" may only contain one "*", at the start or the end`;
  }
  return undefined;
}

function serviceAccountError(v: string): string | undefined {
  if (v.includes("*")) return `service account "${v}" must not contain a wildcard`;
  const parts = v.split("/");
  if (parts.length > 2 || parts.some((p) => p.length === 0))
    return `service account "${v}" must be "<namespace>/<name>" or "<name>"`;
  return undefined;
}

function pathError(v: string): string | undefined {
  return containsPathTemplate(v) ? pathTemplateError(v) : undefined;
}

function each(e: Errors, path: string, raw: unknown, check: (v: string) => string | undefined) {
  if (!Array.isArray(raw)) return;
  raw.forEach((s, i) => {
    if (typeof s !== "string" || s.length === 0) return;
    const msg = check(s);
    if (msg) e.add(`${path}.${i}`, msg);
  });
}

function validateSource(e: Errors, s: Obj, path: string, custom: boolean) {
  const vals: Record<string, string[]> = {};
  for (const f of SOURCE_FIELDS) vals[f] = strings(e, s[f], `${path}.${f}`);
  for (const k of Object.keys(s)) if (!SOURCE_FIELDS.includes(k)) e.add(`${path}.${k}`, `unknown field "${k}"`);
  if (SOURCE_FIELDS.every((f) => vals[f]!.length === 0)) e.add(path, "source must not be empty");
  for (const f of ["serviceAccounts", "notServiceAccounts"]) {
    if (vals[f]!.length === 0) continue;
    if (["principals", "notPrincipals", "namespaces", "notNamespaces"].some((x) => vals[x]!.length > 0)) {
      e.add(`${path}.${f}`, "serviceAccounts cannot be combined with principals or namespaces");
    }
    if (vals[f]!.length > MAX_SERVICE_ACCOUNTS)
      e.add(`${path}.${f}`, `must have at most ${MAX_SERVICE_ACCOUNTS} items`);
    each(e, `${path}.${f}`, s[f], serviceAccountError);
  }
  for (const f of ["trustDomains", "notTrustDomains"]) each(e, `${path}.${f}`, s[f], trustDomainError);
  for (const f of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"]) {
    each(e, `${path}.${f}`, s[f], ipError);
  }
  if (custom) {
    for (const f of CUSTOM_FORBIDDEN_SOURCE) {
      if (vals[f]!.length > 0) e.add(`${path}.${f}`, `${f} is not supported with the CUSTOM action`);
    }
  }
}

function validateOperation(e: Errors, op: Obj, path: string) {
  const vals: Record<string, string[]> = {};
  for (const f of OPERATION_FIELDS) vals[f] = strings(e, op[f], `${path}.${f}`);
  for (const k of Object.keys(op)) if (!OPERATION_FIELDS.includes(k)) e.add(`${path}.${k}`, `unknown field "${k}"`);
  if (OPERATION_FIELDS.every((f) => vals[f]!.length === 0)) e.add(path, "operation must not be empty");
  for (const f of ["ports", "notPorts"]) each(e, `${path}.${f}`, op[f], portError);
  for (const f of ["paths", "notPaths"]) each(e, `${path}.${f}`, op[f], pathError);
}

/** Why a `when` key is not one Istio knows, or undefined. */
export function whenKeyError(key: string): string | undefined {
  if (PLAIN_WHEN_KEYS.has(key)) return undefined;
  if (key.startsWith("request.headers")) {
    const p = parseBracketPath(key.slice("request.headers".length));
    return p && p.length === 1 ? undefined : `invalid key "${key}": must be request.headers[<name>]`;
  }
  if (key.startsWith("request.auth.claims")) {
    return parseBracketPath(key.slice("request.auth.claims".length))
      ? undefined
      : `invalid key "${key}": must be request.auth.claims[<name>] (nested: [a][b])`;
  }
  if (key.startsWith("experimental.envoy.filters.")) return undefined;
  return `unknown attribute "${key}"`;
}

function valueCheck(key: string): ((v: string) => string | undefined) | undefined {
  if (key === "source.ip" || key === "remote.ip" || key === "destination.ip") return ipError;
  if (key === "destination.port") return portError;
  if (key === "source.serviceAccount") return serviceAccountError;
  if (key === "source.trustDomain") return trustDomainError;
  return undefined;
}

function validateCondition(e: Errors, w: unknown, path: string, custom: boolean) {
  if (!isObj(w)) {
    e.add(path, "condition must be an object");
    return;
  }
  const key = w.key;
  if (typeof key !== "string" || key.length === 0) {
    e.add(`${path}.key`, "key is required");
    return;
  }
  const values = strings(e, w.values, `${path}.values`);
  const notValues = strings(e, w.notValues, `${path}.notValues`);
  if (values.length === 0 && notValues.length === 0) e.add(path, "at least one of values or notValues must be set");
  const keyErr = whenKeyError(key);
  if (keyErr) {
    e.add(`${path}.key`, keyErr);
    return;
  }
  const check = valueCheck(key);
  if (check) {
    each(e, `${path}.values`, w.values, check);
    each(e, `${path}.notValues`, w.notValues, check);
  }
  if (custom && (CUSTOM_FORBIDDEN_WHEN.includes(key) || key.startsWith("request.auth."))) {
    e.add(`${path}.key`, `${key} is not supported with the CUSTOM action`);
  }
}

function validateRule(e: Errors, r: unknown, path: string, custom: boolean) {
  if (!isObj(r)) {
    e.add(path, "rule must be an object");
    return;
  }
  for (const [field, inner, validate] of [
    ["from", "source", (o: Obj, p: string) => validateSource(e, o, p, custom)],
    ["to", "operation", (o: Obj, p: string) => validateOperation(e, o, p)],
  ] as const) {
    const list = r[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) {
      e.add(`${path}.${field}`, `${field} must not be empty when present`);
      continue;
    }
    list.forEach((item, i) => {
      const p = `${path}.${field}.${i}.${inner}`;
      const o = isObj(item) ? item[inner] : undefined;
      if (!isObj(o)) e.add(p, `${inner} is required`);
      else validate(o, p);
    });
  }
  const when = r.when;
  if (when !== undefined) {
    if (!Array.isArray(when)) e.add(`${path}.when`, "when must be a list");
    else
      when.forEach((w, i) => {
        validateCondition(e, w, `${path}.when.${i}`, custom);
      });
  }
}

export function validateAuthorizationPolicy(spec: unknown): FieldError[] {
  const e = new Errors();
  if (spec === undefined) return e.list;
  if (!isObj(spec)) return [{ path: "spec", message: "spec must be an object" }];
  const action = spec.action ?? "ALLOW";
  if (typeof action !== "string" || !ACTIONS.includes(action)) {
    e.add("spec.action", `must be one of ${ACTIONS.join(", ")}`);
  }
  const provider = spec.provider;
  if (provider !== undefined && action !== "CUSTOM")
    e.add("spec.provider", "provider is only allowed with action CUSTOM");
  if (action === "CUSTOM") {
    if (!isObj(provider) || typeof provider.name !== "string" || provider.name.length === 0) {
      e.add("spec.provider.name", "a CUSTOM policy must name its provider");
    }
  }
  const rules = spec.rules;
  if (rules !== undefined && !Array.isArray(rules)) {
    e.add("spec.rules", "rules must be a list");
    return e.list;
  }
  const list = (rules ?? []) as unknown[];
  if (list.length === 0 && (action === "DENY" || action === "CUSTOM")) {
    e.add("spec.rules", `${action} policy must have at least one rule (add an empty rule {} to match everything)`);
  }
  if (list.length > MAX_RULES) e.add("spec.rules", `must have at most ${MAX_RULES} items`);
  list.forEach((r, i) => {
    validateRule(e, r, `spec.rules.${i}`, action === "CUSTOM");
  });
  return e.list;
}

function durationError(v: unknown): string | undefined {
  return typeof v === "string" && /^\d+(\.\d+)?(ms|s|m|h)$/.test(v) ? undefined : "must be a duration such as 5s";
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function validateRequestAuthentication(spec: unknown): FieldError[] {
  const e = new Errors();
  if (spec === undefined) return e.list;
  if (!isObj(spec)) return [{ path: "spec", message: "spec must be an object" }];
  const rules = spec.jwtRules;
  if (rules === undefined) return e.list;
  if (!Array.isArray(rules)) return [{ path: "spec.jwtRules", message: "jwtRules must be a list" }];
  rules.forEach((r, i) => {
    const p = `spec.jwtRules.${i}`;
    if (!isObj(r)) {
      e.add(p, "rule must be an object");
      return;
    }
    const hasIssuer = typeof r.issuer === "string" && r.issuer.length > 0;
    if (!hasIssuer && (typeof r.jwksUri !== "string" || r.jwksUri.length === 0))
      e.add(`${p}.issuer`, "issuer must be set");
    if (r.jwksUri !== undefined && r.jwks !== undefined) e.add(`${p}.jwks`, "jwksUri and jwks cannot both be set");
    if (r.jwksUri !== undefined) {
      let ok = false;
      try {
        const u = new URL(String(r.jwksUri));
        ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
      } catch {
        ok = false;
      }
      if (!ok) e.add(`${p}.jwksUri`, "jwksUri must be an http or https URL");
    }
    if (r.jwks !== undefined) {
      let ok = false;
      try {
        const parsed = JSON.parse(String(r.jwks)) as unknown;
        ok = isObj(parsed) && Array.isArray(parsed.keys);
      } catch {
        ok = false;
      }
      if (!ok) e.add(`${p}.jwks`, "jwks must be a JSON Web Key Set with a keys list");
    }
    strings(e, r.audiences, `${p}.audiences`);
    strings(e, r.fromParams, `${p}.fromParams`);
    strings(e, r.fromCookies, `${p}.fromCookies`);
    if (r.fromHeaders !== undefined) {
      if (!Array.isArray(r.fromHeaders)) e.add(`${p}.fromHeaders`, "must be a list");
      else
        r.fromHeaders.forEach((h, j) => {
          if (!isObj(h) || typeof h.name !== "string" || !HEADER_NAME.test(h.name)) {
            e.add(`${p}.fromHeaders.${j}.name`, "a valid header name is required");
          }
        });
    }
    if (
      r.outputPayloadToHeader !== undefined &&
      (typeof r.outputPayloadToHeader !== "string" || !HEADER_NAME.test(r.outputPayloadToHeader))
    ) {
      e.add(`${p}.outputPayloadToHeader`, "must be a valid header name");
    }
    if (r.outputClaimToHeaders !== undefined) {
      if (!Array.isArray(r.outputClaimToHeaders)) e.add(`${p}.outputClaimToHeaders`, "must be a list");
      else
        r.outputClaimToHeaders.forEach((c, j) => {
          const cp = `${p}.outputClaimToHeaders.${j}`;
          if (!isObj(c) || typeof c.header !== "string" || !HEADER_NAME.test(c.header))
            e.add(`${cp}.header`, "a valid header name is required");
          if (!isObj(c) || typeof c.claim !== "string" || c.claim.length === 0)
            e.add(`${cp}.claim`, "claim is required");
        });
    }
    if (r.timeout !== undefined) {
      const msg = durationError(r.timeout);
      if (msg) e.add(`${p}.timeout`, msg);
    }
  });
  return e.list;
}

export function validatePeerAuthentication(spec: unknown): FieldError[] {
  const e = new Errors();
  if (spec === undefined) return e.list;
  if (!isObj(spec)) return [{ path: "spec", message: "spec must be an object" }];
  const modeErr = (v: unknown, path: string) => {
    if (!isObj(v)) {
      e.add(path, "must be an object");
      return;
    }
    if (v.mode !== undefined && (typeof v.mode !== "string" || !MTLS_MODES.includes(v.mode))) {
      e.add(`${path}.mode`, `must be one of ${MTLS_MODES.join(", ")}`);
    }
  };
  if (spec.mtls !== undefined) modeErr(spec.mtls, "spec.mtls");
  const ports = spec.portLevelMtls;
  if (ports !== undefined) {
    if (!isObj(ports)) e.add("spec.portLevelMtls", "must be a map from port to mTLS settings");
    else {
      const selector = spec.selector;
      const labels = isObj(selector) && isObj(selector.matchLabels) ? Object.keys(selector.matchLabels) : [];
      if (labels.length === 0) e.add("spec.portLevelMtls", "portLevelMtls requires a workload selector with labels");
      for (const [port, v] of Object.entries(ports)) {
        if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
          e.add(`spec.portLevelMtls.${port}`, `port "${port}" must be in 1-65535`);
        }
        modeErr(v, `spec.portLevelMtls.${port}`);
      }
    }
  }
  return e.list;
}

/** The loader's extra validators for the security kinds (the generic targeting rules live in api/validate.ts). */
export const POLICY_SPEC_VALIDATORS: SpecValidators = {
  AuthorizationPolicy: validateAuthorizationPolicy,
  RequestAuthentication: validateRequestAuthentication,
  PeerAuthentication: validatePeerAuthentication,
};
