// Structural validation of the objects Ambit reads. Each problem names the field (dotted path) so the loader can
// point at its line. An object with any error is rejected alone; the rest of the input still loads.
import { labelKeyError, labelValueError, nameError } from "./labels.js";
import { isPlainObject } from "./parse.js";
import { POLICY_KINDS } from "./resources.js";
import { isSeedUseWaypointValue } from "./seed-forms.js";

export interface FieldError {
  path: string;
  message: string;
}

type Validator = (obj: Record<string, unknown>, errors: FieldError[]) => void;

const CLUSTER_SCOPED = new Set(["Namespace", "GatewayClass"]);

/** Extra validators for a kind's spec, supplied by the modules that own those semantics (e.g. the policy engine).
 *  Paths they return are full dotted paths ("spec.rules.0..."). */
export type SpecValidators = Readonly<Record<string, (spec: unknown) => FieldError[]>>;

export function validateObject(obj: unknown, specValidators: SpecValidators = {}): FieldError[] {
  const errors: FieldError[] = [];
  if (!isPlainObject(obj)) return [{ path: "", message: "must be a mapping (a Kubernetes object)" }];
  if (typeof obj.apiVersion !== "string" || obj.apiVersion === "") {
    errors.push({ path: "apiVersion", message: "is required" });
  }
  if (typeof obj.kind !== "string" || obj.kind === "") errors.push({ path: "kind", message: "is required" });
  validateMetadata(obj, errors);
  const kind = typeof obj.kind === "string" ? obj.kind : "";
  if (obj.spec !== undefined && !isPlainObject(obj.spec)) errors.push({ path: "spec", message: "must be a mapping" });
  if (errors.length > 0) return errors;
  KIND_VALIDATORS[kind]?.(obj, errors);
  if ((POLICY_KINDS as readonly string[]).includes(kind)) validateTargeting(obj, errors);
  const extra = specValidators[kind];
  if (extra && errors.length === 0) errors.push(...extra(obj.spec));
  return errors;
}

function validateMetadata(obj: Record<string, unknown>, errors: FieldError[]): void {
  const meta = obj.metadata;
  if (!isPlainObject(meta)) {
    errors.push({ path: "metadata", message: "is required" });
    return;
  }
  const nameProblem = nameError(meta.name);
  if (nameProblem) errors.push({ path: "metadata.name", message: nameProblem });
  if (meta.namespace !== undefined && !CLUSTER_SCOPED.has(String(obj.kind))) {
    const nsProblem = typeof meta.namespace === "string" ? dns1123LabelError(meta.namespace) : "must be a string";
    if (nsProblem) errors.push({ path: "metadata.namespace", message: nsProblem });
  }
  validateLabelMap(meta.labels, "metadata.labels", errors, true);
  if (meta.annotations !== undefined) {
    if (!isPlainObject(meta.annotations)) errors.push({ path: "metadata.annotations", message: "must be a mapping" });
    else {
      for (const [k, v] of Object.entries(meta.annotations)) {
        if (typeof v !== "string") {
          errors.push({ path: `metadata.annotations.${k}`, message: `must be a string, got ${typeof v}` });
        }
      }
    }
  }
}

export function validateLabelMap(labels: unknown, path: string, errors: FieldError[], allowSeedForms = false): void {
  if (labels === undefined || labels === null) return;
  if (!isPlainObject(labels)) {
    errors.push({ path, message: "must be a mapping of label keys to string values" });
    return;
  }
  for (const [key, value] of Object.entries(labels)) {
    const keyProblem = labelKeyError(key);
    if (keyProblem) errors.push({ path: `${path}.${key}`, message: `invalid label key "${key}": ${keyProblem}` });
    if (allowSeedForms && isSeedUseWaypointValue(key, value)) continue;
    const valueProblem = labelValueError(value);
    if (valueProblem) {
      errors.push({ path: `${path}.${key}`, message: `invalid label value ${JSON.stringify(value)}: ${valueProblem}` });
    }
  }
}

function dns1123LabelError(v: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v) ? undefined : "must be a lowercase RFC 1123 label";
}

function requireString(o: Record<string, unknown>, key: string, path: string, errors: FieldError[]): void {
  if (typeof o[key] !== "string" || o[key] === "") errors.push({ path: `${path}.${key}`, message: "is required" });
}

function optionalType(
  o: Record<string, unknown>,
  key: string,
  type: "string" | "boolean" | "array" | "mapping",
  path: string,
  errors: FieldError[],
): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  const ok = type === "array" ? Array.isArray(v) : type === "mapping" ? isPlainObject(v) : typeof v === type;
  if (!ok) errors.push({ path: `${path}.${key}`, message: `must be ${type === "array" ? "a list" : `a ${type}`}` });
}

function validatePort(v: unknown, path: string, errors: FieldError[], allowZero = false): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535) {
    errors.push({ path, message: `must be a port number between ${allowZero ? 0 : 1} and 65535` });
  }
}

function validatePodSpec(spec: unknown, path: string, errors: FieldError[]): void {
  if (!isPlainObject(spec)) {
    errors.push({ path, message: "is required" });
    return;
  }
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    errors.push({ path: `${path}.containers`, message: "must list at least one container" });
    return;
  }
  spec.containers.forEach((c: unknown, i: number) => {
    const cp = `${path}.containers.${i}`;
    if (!isPlainObject(c)) {
      errors.push({ path: cp, message: "must be a mapping" });
      return;
    }
    requireString(c, "name", cp, errors);
    optionalType(c, "command", "array", cp, errors);
    optionalType(c, "args", "array", cp, errors);
    optionalType(c, "env", "array", cp, errors);
    if (Array.isArray(c.ports)) {
      c.ports.forEach((p: unknown, j: number) => {
        validatePort(isPlainObject(p) ? p.containerPort : undefined, `${cp}.ports.${j}.containerPort`, errors);
      });
    }
  });
  optionalType(spec, "hostNetwork", "boolean", path, errors);
  optionalType(spec, "serviceAccountName", "string", path, errors);
}

const KIND_VALIDATORS: Record<string, Validator> = {
  Pod: (o, errors) => validatePodSpec(o.spec, "spec", errors),
  Deployment: (o, errors) => {
    const spec = o.spec as Record<string, unknown> | undefined;
    if (!spec) return void errors.push({ path: "spec", message: "is required" });
    if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || (spec.replicas as number) < 0)) {
      errors.push({ path: "spec.replicas", message: "must be a non-negative integer" });
    }
    const template = spec.template;
    if (!isPlainObject(template)) {
      errors.push({ path: "spec.template", message: "is required" });
      return;
    }
    if (isPlainObject(template.metadata))
      validateLabelMap(template.metadata.labels, "spec.template.metadata.labels", errors, true);
    validatePodSpec(template.spec, "spec.template.spec", errors);
  },
  Service: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    optionalType(spec, "type", "string", "spec", errors);
    if (spec.selector !== undefined) validateLabelMap(spec.selector, "spec.selector", errors);
    if (spec.ports !== undefined && !Array.isArray(spec.ports))
      errors.push({ path: "spec.ports", message: "must be a list" });
    if (Array.isArray(spec.ports)) {
      spec.ports.forEach((p: unknown, i: number) => {
        if (!isPlainObject(p)) {
          errors.push({ path: `spec.ports.${i}`, message: "must be a mapping" });
          return;
        }
        validatePort(p.port, `spec.ports.${i}.port`, errors);
        if (typeof p.targetPort === "number") validatePort(p.targetPort, `spec.ports.${i}.targetPort`, errors);
      });
    }
  },
  ServiceEntry: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    if (
      !Array.isArray(spec.hosts) ||
      spec.hosts.length === 0 ||
      spec.hosts.some((h) => typeof h !== "string" || h === "")
    ) {
      errors.push({ path: "spec.hosts", message: "must list at least one host" });
    }
    if (Array.isArray(spec.endpoints)) {
      spec.endpoints.forEach((e: unknown, i: number) => {
        if (!isPlainObject(e)) {
          errors.push({ path: `spec.endpoints.${i}`, message: "must be a mapping" });
          return;
        }
        validateLabelMap(e.labels, `spec.endpoints.${i}.labels`, errors, true);
      });
    }
  },
  WorkloadEntry: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    optionalType(spec, "address", "string", "spec", errors);
    validateLabelMap(spec.labels, "spec.labels", errors, true);
  },
  Gateway: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    requireString(spec, "gatewayClassName", "spec", errors);
    if (spec.listeners !== undefined && !Array.isArray(spec.listeners)) {
      errors.push({ path: "spec.listeners", message: "must be a list" });
    }
    if (Array.isArray(spec.listeners)) {
      spec.listeners.forEach((l: unknown, i: number) => {
        const lp = `spec.listeners.${i}`;
        if (!isPlainObject(l)) {
          errors.push({ path: lp, message: "must be a mapping" });
          return;
        }
        requireString(l, "name", lp, errors);
        requireString(l, "protocol", lp, errors);
        validatePort(l.port, `${lp}.port`, errors);
      });
    }
  },
  GatewayClass: (o, errors) =>
    requireString((o.spec ?? {}) as Record<string, unknown>, "controllerName", "spec", errors),
  HTTPRoute: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    optionalType(spec, "parentRefs", "array", "spec", errors);
    if (Array.isArray(spec.parentRefs)) {
      spec.parentRefs.forEach((p: unknown, i: number) => {
        if (!isPlainObject(p)) {
          errors.push({ path: `spec.parentRefs.${i}`, message: "must be a mapping" });
          return;
        }
        requireString(p, "name", `spec.parentRefs.${i}`, errors);
      });
    }
  },
  PeerAuthentication: (o, errors) => {
    const spec = (o.spec ?? {}) as Record<string, unknown>;
    if (spec.targetRef !== undefined || spec.targetRefs !== undefined) {
      errors.push({
        path: spec.targetRefs !== undefined ? "spec.targetRefs" : "spec.targetRef",
        message: "PeerAuthentication does not support targetRefs; use selector",
      });
    }
  },
};

const ALLOWED_TARGETS: Record<string, ReadonlySet<string>> = {
  Service: new Set(["", "core"]),
  ServiceEntry: new Set(["networking.istio.io"]),
  Gateway: new Set(["gateway.networking.k8s.io"]),
  GatewayClass: new Set(["gateway.networking.k8s.io"]),
};

/** Admission rules shared by every policy kind (pkg/config/validation: validatePolicyTargetReference). */
function validateTargeting(o: Record<string, unknown>, errors: FieldError[]): void {
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  const hasRefs = Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0;
  const hasRef = spec.targetRef !== undefined && spec.targetRef !== null;
  if (spec.selector !== undefined && spec.selector !== null && (hasRefs || hasRef)) {
    errors.push({
      path: hasRefs ? "spec.targetRefs" : "spec.targetRef",
      message: "only one of targetRefs or workloadSelector can be set",
    });
  }
  if (spec.selector !== undefined && spec.selector !== null) {
    if (!isPlainObject(spec.selector)) errors.push({ path: "spec.selector", message: "must be a mapping" });
    else validateLabelMap(spec.selector.matchLabels, "spec.selector.matchLabels", errors);
  }
  if (spec.targetRefs !== undefined && !Array.isArray(spec.targetRefs)) {
    errors.push({ path: "spec.targetRefs", message: "must be a list" });
    return;
  }
  const refs: Array<[unknown, string]> = [];
  if (Array.isArray(spec.targetRefs)) {
    if (spec.targetRefs.length > 16) errors.push({ path: "spec.targetRefs", message: "must have at most 16 items" });
    spec.targetRefs.forEach((r: unknown, i: number) => {
      refs.push([r, `spec.targetRefs.${i}`]);
    });
  }
  if (hasRef) refs.push([spec.targetRef, "spec.targetRef"]);
  for (const [ref, path] of refs) {
    if (!isPlainObject(ref)) {
      errors.push({ path, message: "must be a mapping with group, kind and name" });
      continue;
    }
    if (typeof ref.name !== "string" || ref.name === "") errors.push({ path: `${path}.name`, message: "is required" });
    if (ref.namespace !== undefined && ref.namespace !== "") {
      errors.push({
        path: `${path}.namespace`,
        message: "targetRef namespace must not be set; cross namespace referencing is not supported",
      });
    }
    const kind = typeof ref.kind === "string" ? ref.kind : "";
    const group = typeof ref.group === "string" ? ref.group : "";
    const groups = ALLOWED_TARGETS[kind];
    if (!groups) {
      errors.push({
        path: `${path}.kind`,
        message: `unsupported targetRef kind ${JSON.stringify(kind)}: must be one of Service, ServiceEntry, Gateway, GatewayClass`,
      });
    } else if (!groups.has(group)) {
      const want = [...groups].map((g) => (g === "" ? '""' : g)).join(" or ");
      errors.push({
        path: `${path}.group`,
        message: `targetRef group for kind ${kind} must be ${want}, got ${JSON.stringify(group)}`,
      });
    }
  }
}
