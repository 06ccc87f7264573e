// The local runtime's public surface, for `ambit up`, `ambit logs` and `ambit down`.
export {
  type AddPodOptions,
  type ClusterEvents,
  LocalCluster,
  type LocalClusterOptions,
  type LogOptions,
  type RunningPod,
} from "./cluster.js";
export { DEFAULT_CLUSTER_DOMAIN } from "./dns.js";
export { containerLogPath, followLog, readLog } from "./logs.js";
export { DEFAULT_PREFIX } from "./names.js";
export type { PodPhase, PodStatusReport } from "./pod.js";
export { type MissingPrerequisite, prerequisites } from "./prerequisites.js";
export { DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR, leftovers, teardownAll } from "./topology.js";
export { podsFromObjects, podsOfDeployment } from "./workloads.js";
