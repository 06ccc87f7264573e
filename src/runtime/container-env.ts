// What a container runs and with which environment, from its spec and the pod's facts (Kubernetes
// semantics): `command` replaces the image's entrypoint and `args` follow it; without `command` the image's
// entrypoint would run, which an image-less runtime cannot know. `$(VAR)` in env values, command and args
// expands from variables defined earlier; `$$(` escapes.
import type { Container, Pod } from "../api/resources.js";
import { AmbitError } from "../errors.js";

/** The pod facts `valueFrom.fieldRef` can read. */
export interface PodFacts {
  name: string;
  namespace: string;
  podIP: string;
  nodeName: string;
  /** The machine's address on the cluster network: every virtual node shares it. */
  hostIP: string;
  serviceAccountName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export type ContainerPlan =
  | { runnable: true; argv: string[]; env: Record<string, string> }
  | { runnable: false; reason: "ImageEntrypointUnsupported"; message: string };

export function podFacts(pod: Pod, where: { podIP: string; nodeName: string; hostIP: string }): PodFacts {
  return {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace ?? "default",
    podIP: where.podIP,
    nodeName: where.nodeName,
    hostIP: where.hostIP,
    serviceAccountName: pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? "default",
    labels: pod.metadata.labels ?? {},
    annotations: pod.metadata.annotations ?? {},
  };
}

const LABEL_REF = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** The value of a `fieldRef.fieldPath` Kubernetes supports for env vars. */
export function fieldValue(facts: PodFacts, fieldPath: string): string {
  switch (fieldPath) {
    case "metadata.name":
      return facts.name;
    case "metadata.namespace":
      return facts.namespace;
    case "status.podIP":
    case "status.podIPs":
      return facts.podIP;
    case "spec.nodeName":
      return facts.nodeName;
    case "spec.serviceAccountName":
      return facts.serviceAccountName;
    case "status.hostIP":
    case "status.hostIPs":
      return facts.hostIP;
  }
  const match = LABEL_REF.exec(fieldPath);
  if (match) {
    const [, kind, key] = match as unknown as [string, "labels" | "annotations", string];
    return (kind === "labels" ? facts.labels : facts.annotations)[key] ?? "";
  }
  throw new AmbitError("AMBIT_RUNTIME_UNSUPPORTED_FIELD", `env fieldRef "${fieldPath}" is not supported`);
}

/** Kubernetes' $(VAR) expansion: defined names expand, undefined ones stay as written, $$ escapes. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return "$";
    return Object.hasOwn(env, name) ? (env[name] as string) : whole;
  });
}

export interface PlanOptions {
  /** Variables from the runtime's own environment (PATH, HOME...), overridden by the container's. */
  baseEnv?: Record<string, string>;
}

export function containerPlan(container: Container, facts: PodFacts, options: PlanOptions = {}): ContainerPlan {
  if (container.command === undefined || container.command.length === 0) {
    return {
      runnable: false,
      reason: "ImageEntrypointUnsupported",
      message: `container ${container.name} has no command: the local runtime runs no images, so the entrypoint of ${container.image ?? "its image"} is unknown; set command (and args)`,
    };
  }
  // Kubernetes sets HOSTNAME to the pod name; the container's own env may still override it.
  const env: Record<string, string> = { ...options.baseEnv, HOSTNAME: facts.name };
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) env[variable.name] = fieldValue(facts, fieldPath);
    else env[variable.name] = expand(variable.value ?? "", env);
  }
  const argv = [...container.command, ...(container.args ?? [])].map((part) => expand(part, env));
  return { runnable: true, argv, env };
}
