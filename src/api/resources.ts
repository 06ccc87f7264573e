// Resource shapes Ambit reads: plain Kubernetes-style objects, typed only as far as Ambit uses them.
// Every loaded object remembers where it came from so diagnostics can point at file and line.

export interface SourceRef {
  file: string;
  /** 1-based line of the object's first line in `file`. */
  line: number;
  /** 1-based lines of fields inside the object, keyed by dotted path (e.g. "spec.targetRefs.0.kind"). */
  fieldLines?: ReadonlyMap<string, number>;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  /** RFC 3339; "oldest wins" tie-breaks (PeerAuthentication, Telemetry) compare it. */
  creationTimestamp?: string;
  uid?: string;
  resourceVersion?: string;
  ownerReferences?: Array<{ apiVersion?: string; kind: string; name: string; controller?: boolean }>;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface KubeObject<Spec extends object = object, Status extends object = object> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  /** Where the object was read from; absent for objects made in code. */
  source?: SourceRef;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

// ---- core/v1 and apps/v1 ----

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  readinessProbe?: { httpGet?: { path?: string; port: number | string } };
}

export interface PodSpec {
  containers: Container[];
  serviceAccountName?: string;
  serviceAccount?: string;
  hostNetwork?: boolean;
  nodeName?: string;
}

export interface PodStatus {
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  hostIP?: string;
  phase?: string;
}

export type Pod = KubeObject<PodSpec, PodStatus>;

export interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template: { metadata?: Partial<ObjectMeta>; spec: PodSpec };
}

export type Deployment = KubeObject<DeploymentSpec>;

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface ServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
}

export type Service = KubeObject<ServiceSpec, { conditions?: Condition[] }>;
export type Namespace = KubeObject;

// ---- networking.istio.io ----

export interface WorkloadEntrySpec {
  address?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  network?: string;
  ports?: Record<string, number>;
}

export type WorkloadEntry = KubeObject<WorkloadEntrySpec, { conditions?: Condition[] }>;

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: Array<{ number: number; name?: string; protocol?: string; targetPort?: number }>;
  location?: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution?: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
}

export type ServiceEntry = KubeObject<ServiceEntrySpec, { conditions?: Condition[] }>;

// ---- gateway.networking.k8s.io ----

export interface GatewayListener {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  allowedRoutes?: {
    namespaces?: { from?: "Same" | "All" | "Selector"; selector?: LabelSelector };
  };
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners?: GatewayListener[];
  addresses?: Array<{ type?: string; value: string }>;
}

export interface GatewayStatus {
  addresses?: Array<{ type?: string; value: string }>;
  conditions?: Condition[];
}

export type Gateway = KubeObject<GatewaySpec, GatewayStatus>;
export type GatewayClass = KubeObject<{ controllerName: string }>;

export interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPRouteSpec {
  parentRefs?: ParentRef[];
  hostnames?: string[];
  rules?: Array<Record<string, unknown>>;
}

export type HTTPRoute = KubeObject<HTTPRouteSpec>;

// ---- security.istio.io / telemetry / extensions: the policy kinds ----

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** What every policy kind shares: how it says where it applies. */
export interface TargetedSpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
}

export interface Source {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface Operation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface ConditionClause {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface Rule {
  from?: Array<{ source?: Source }>;
  to?: Array<{ operation?: Operation }>;
  when?: ConditionClause[];
}

export type AuthorizationAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

export interface AuthorizationPolicySpec extends TargetedSpec {
  action?: AuthorizationAction;
  provider?: { name: string };
  rules?: Rule[];
}

export type AuthorizationPolicy = KubeObject<AuthorizationPolicySpec, { conditions?: Condition[] }>;

export interface JWTHeader {
  name: string;
  prefix?: string;
}

export interface JWTRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: JWTHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  timeout?: string;
}

export interface RequestAuthenticationSpec extends TargetedSpec {
  jwtRules?: JWTRule[];
}

export type RequestAuthentication = KubeObject<RequestAuthenticationSpec>;

export type MutualTLSMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MutualTLSMode };
  portLevelMtls?: Record<string, { mode?: MutualTLSMode }>;
}

export type PeerAuthentication = KubeObject<PeerAuthenticationSpec>;
export type Telemetry = KubeObject<TargetedSpec & Record<string, unknown>>;
export type WasmPlugin = KubeObject<TargetedSpec & Record<string, unknown>>;

/** The kinds Ambit understands; anything else is ignored with an info diagnostic. */
export const KNOWN_KINDS = [
  "Namespace",
  "ServiceAccount",
  "Pod",
  "Deployment",
  "Service",
  "ServiceEntry",
  "WorkloadEntry",
  "Gateway",
  "GatewayClass",
  "HTTPRoute",
  "AuthorizationPolicy",
  "RequestAuthentication",
  "PeerAuthentication",
  "Telemetry",
  "WasmPlugin",
] as const;

export type KnownKind = (typeof KNOWN_KINDS)[number];

/** Kinds that attach to waypoints with targetRefs (the seed's L7 policies). */
export const POLICY_KINDS = ["AuthorizationPolicy", "RequestAuthentication", "Telemetry", "WasmPlugin"] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export function isKnownKind(kind: string): kind is KnownKind {
  return (KNOWN_KINDS as readonly string[]).includes(kind);
}

export function objectKey(o: { metadata: ObjectMeta }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}
