// The JSON carried in `ambit.waypoint.WaypointConfig.config_json`: everything one waypoint needs to serve its
// bound services. The control plane derives it from the mesh model (src/controlplane); the waypoint
// (src/dataplane/waypoint) compiles it. Policies and routes travel as the user's own objects so the waypoint runs
// the very engine `ambit check` uses.
import type {
  AuthorizationPolicy,
  HTTPRoute,
  KubeObject,
  RequestAuthentication,
  Telemetry,
  WasmPlugin,
} from "../api/resources.js";

export interface WaypointL7Config {
  waypoint: {
    namespace: string;
    name: string;
    /** The waypoint's own SPIFFE identity (its pods' service account), used for HBONE to destinations. */
    identity: string;
    trafficType: string;
  };
  /** Services whose traffic this waypoint handles (bound with istio.io/use-waypoint and a matching traffic type). */
  services: WaypointService[];
  /** Workloads whose pod-addressed traffic this waypoint handles (waypoint-for: workload or all). */
  workloads: WaypointEndpoint[];
  /** Policies attached to this waypoint: to the Gateway, to the istio-waypoint GatewayClass, or to a bound
   *  Service/ServiceEntry (then only for that service's requests). Raw objects, as the user wrote them. */
  authorizationPolicies: AuthorizationPolicy[];
  requestAuthentications: RequestAuthentication[];
  telemetries: Telemetry[];
  wasmPlugins: WasmPlugin[];
  /** HTTPRoutes whose parentRefs name one of `services` (GAMMA: kind Service, group ""). */
  httpRoutes: HTTPRoute[];
  rootNamespace: string;
  trustDomain: string;
}

export interface WaypointService {
  kind: "Service" | "ServiceEntry";
  namespace: string;
  name: string;
  /** e.g. productpage.bookinfo.svc.cluster.local */
  hostname: string;
  vips: string[];
  ports: Array<{ port: number; targetPort: number; name?: string; appProtocol?: string }>;
  endpoints: WaypointEndpoint[];
}

export interface WaypointEndpoint {
  namespace: string;
  /** Pod or WorkloadEntry name. */
  name: string;
  address: string;
  /** SPIFFE identity the destination ztunnel presents for this workload (HBONE to `address`:15008). */
  identity: string;
  node?: string;
  labels: Record<string, string>;
  healthy: boolean;
  /** Whether the workload is captured (reach it over HBONE) or not (plain TCP to address:targetPort). */
  hbone: boolean;
}

export type WaypointPolicyObject = KubeObject;
