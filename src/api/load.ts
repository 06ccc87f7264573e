// Manifest texts → validated, normalised objects plus diagnostics. An invalid object is rejected alone, with an
// error naming its file, line and field; everything else still loads.
import { Codes } from "./codes.js";
import { type Diagnostic, resourceName } from "./diagnostic.js";
import { isPlainObject, parseManifests } from "./parse.js";
import { isKnownKind, type KubeObject } from "./resources.js";
import { rewriteSeedForms } from "./seed-forms.js";
import { type SpecValidators, validateObject } from "./validate.js";

export interface ManifestText {
  file: string;
  text: string;
}

export interface LoadResult {
  objects: KubeObject[];
  diagnostics: Diagnostic[];
  /** YAML that could not be parsed (documents skipped). */
  syntaxErrors: number;
  /** Objects rejected by validation whose kind and name could be read (a store keeps their last good version). */
  rejected: Array<{ kind: string; namespace?: string; name: string; file: string }>;
}

const CLUSTER_SCOPED = new Set(["Namespace", "GatewayClass"]);

export function loadManifests(texts: ReadonlyArray<ManifestText>, specValidators: SpecValidators = {}): LoadResult {
  const result: LoadResult = { objects: [], diagnostics: [], syntaxErrors: 0, rejected: [] };
  const seen = new Map<string, KubeObject>();
  for (const { file, text } of texts) {
    const parsed = parseManifests(text, file);
    result.syntaxErrors += parsed.syntaxErrors;
    result.diagnostics.push(...parsed.diagnostics);
    for (const raw of parsed.objects) {
      const value = raw.value;
      const kind = isPlainObject(value) && typeof value.kind === "string" ? value.kind : undefined;
      const meta = isPlainObject(value) && isPlainObject(value.metadata) ? value.metadata : {};
      const name = typeof meta.name === "string" ? meta.name : "";
      const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
      const where = kind && name ? resourceName(kind, { name, namespace }) : "";
      if (kind && !isKnownKind(kind)) {
        result.diagnostics.push({
          level: "Info",
          code: Codes.UnknownKind,
          resource: where,
          message: `kind ${kind} (${String((value as Record<string, unknown>).apiVersion)}) is not used by Ambit; ignored`,
          file,
          line: raw.source.line,
        });
        continue;
      }
      const errors = validateObject(value, specValidators);
      if (errors.length > 0) {
        for (const e of errors) {
          result.diagnostics.push({
            level: "Error",
            code: Codes.SchemaValidationError,
            resource: where,
            message: `${e.path ? `${e.path}: ` : ""}${e.message}; object rejected`,
            file,
            line: raw.lineOf(e.path),
          });
        }
        if (kind && name) {
          result.rejected.push({
            kind,
            namespace: CLUSTER_SCOPED.has(kind) ? undefined : (namespace ?? "default"),
            name,
            file,
          });
        }
        continue;
      }
      const obj = normalise(value as unknown as KubeObject, raw.source, result.diagnostics);
      const key = `${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
      const earlier = seen.get(key);
      if (earlier) {
        result.diagnostics.push({
          level: "Error",
          code: Codes.DuplicateObject,
          resource: resourceName(obj.kind, obj.metadata),
          message: `duplicate object: already defined at ${earlier.source?.file}:${earlier.source?.line}; this one is ignored`,
          file,
          line: raw.source.line,
        });
        continue;
      }
      seen.set(key, obj);
      result.objects.push(obj);
    }
  }
  return result;
}

function normalise(obj: KubeObject, source: KubeObject["source"], diagnostics: Diagnostic[]): KubeObject {
  const metadata = { ...obj.metadata };
  if (CLUSTER_SCOPED.has(obj.kind)) delete metadata.namespace;
  else metadata.namespace ??= "default";
  const out: KubeObject = { ...obj, metadata, source };
  const rewriteAt = (labels: Record<string, string> | undefined, path: string): Record<string, string> | undefined => {
    if (!labels) return labels;
    const { labels: rewritten, notes } = rewriteSeedForms(labels);
    for (const note of notes) {
      diagnostics.push({
        level: "Warning",
        code: Codes.NonKubernetesLabelValue,
        resource: resourceName(obj.kind, metadata),
        message: note,
        file: source?.file,
        line: source?.fieldLines?.get(`${path}.istio.io/use-waypoint`) ?? source?.fieldLines?.get(path) ?? source?.line,
      });
    }
    return rewritten;
  };
  metadata.labels = rewriteAt(metadata.labels, "metadata.labels");
  if (obj.kind === "Deployment" && isPlainObject(obj.spec) && isPlainObject(obj.spec.template)) {
    const template = obj.spec.template as { metadata?: { labels?: Record<string, string> } };
    if (template.metadata?.labels) {
      out.spec = {
        ...obj.spec,
        template: {
          ...template,
          metadata: {
            ...template.metadata,
            labels: rewriteAt(template.metadata.labels, "spec.template.metadata.labels"),
          },
        },
      };
    }
  }
  if (obj.kind === "WorkloadEntry" && isPlainObject(obj.spec) && isPlainObject(obj.spec.labels)) {
    out.spec = { ...obj.spec, labels: rewriteAt(obj.spec.labels as Record<string, string>, "spec.labels") };
  }
  if (obj.kind === "ServiceEntry" && isPlainObject(obj.spec) && Array.isArray(obj.spec.endpoints)) {
    out.spec = {
      ...obj.spec,
      endpoints: obj.spec.endpoints.map((e: Record<string, unknown>, i: number) =>
        isPlainObject(e.labels)
          ? { ...e, labels: rewriteAt(e.labels as Record<string, string>, `spec.endpoints.${i}.labels`) }
          : e,
      ),
    };
  }
  return out;
}
