// Builders for plain resource objects in tests.
import type {
  AuthorizationPolicySpec,
  Gateway,
  GatewayClass,
  KubeObject,
  Namespace,
  Pod,
  Service,
  ServiceEntry,
  WorkloadEntry,
} from "../../src/api/resources.js";

type Labels = Record<string, string>;

export function ns(name: string, labels: Labels = {}): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

export function pod(
  namespace: string,
  name: string,
  labels: Labels = {},
  extra: Partial<Pod["spec"]> & { annotations?: Record<string, string>; ip?: string } = {},
): Pod {
  const { annotations, ip, ...spec } = extra;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels, annotations },
    spec: { containers: [{ name: "app" }], ...spec },
    status: ip ? { podIP: ip } : undefined,
  };
}

export function svc(namespace: string, name: string, labels: Labels = {}, selector: Labels = { app: name }): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels },
    spec: { selector, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

export interface GatewayOptions {
  labels?: Labels;
  className?: string;
  allowedFrom?: "Same" | "All" | "Selector";
  selector?: { matchLabels?: Labels };
  addresses?: Array<{ type?: string; value: string }>;
  listeners?: NonNullable<Gateway["spec"]>["listeners"];
}

export function waypoint(namespace: string, name: string, o: GatewayOptions = {}): Gateway {
  const listener = {
    name: "mesh",
    port: 15008,
    protocol: "HBONE",
    ...(o.allowedFrom
      ? { allowedRoutes: { namespaces: { from: o.allowedFrom, ...(o.selector ? { selector: o.selector } : {}) } } }
      : {}),
  };
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name, namespace, labels: o.labels ?? {} },
    spec: { gatewayClassName: o.className ?? "istio-waypoint", listeners: o.listeners ?? [listener] },
    status: o.addresses ? { addresses: o.addresses } : undefined,
  };
}

export function gatewayClass(name: string, controllerName: string, labels: Labels = {}): GatewayClass {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: { name, labels },
    spec: { controllerName },
  };
}

export function workloadEntry(
  namespace: string,
  name: string,
  labels: Labels = {},
  specLabels: Labels = {},
): WorkloadEntry {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: { name, namespace, labels },
    spec: { address: "10.9.9.9", labels: specLabels },
  };
}

export function serviceEntry(
  namespace: string,
  name: string,
  labels: Labels = {},
  endpoints: ServiceEntry["spec"] extends infer S ? (S extends { endpoints?: infer E } ? E : never) : never = [],
): ServiceEntry {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name, namespace, labels },
    spec: { hosts: [`${name}.example.com`], endpoints },
  };
}

export function authz(
  namespace: string,
  name: string,
  spec: AuthorizationPolicySpec,
  annotations?: Record<string, string>,
): KubeObject<AuthorizationPolicySpec> {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name, namespace, annotations, generation: 1 },
    spec,
  };
}

export function policy(kind: string, namespace: string, name: string, spec: object): KubeObject {
  return { apiVersion: "x/v1", kind, metadata: { name, namespace }, spec };
}

export const serviceRef = (name: string) => ({ group: "", kind: "Service", name });
export const gatewayRef = (name: string) => ({ group: "gateway.networking.k8s.io", kind: "Gateway", name });
