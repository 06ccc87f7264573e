// Which identities a node may obtain certificates for (spec data-plane.md §4.3): istiod signs an impersonated
// identity only when a pod with that identity runs on the caller's node. The model's placement is the truth:
// a workload's `spec.nodeName`, waypoint pods included.
import type { Authorizer } from "../identity/ca.js";
import type { MeshModel } from "../mesh/model.js";
import type { Workload } from "../mesh/types.js";

export interface CaAuthorizerOptions {
  /** Where a workload runs, when something other than its `spec.nodeName` decides (a local runtime's scheduler). */
  nodeOf?: (w: Workload) => string | undefined;
}

export function caAuthorizer(model: () => MeshModel, opts: CaAuthorizerOptions = {}): Authorizer {
  const nodeOf = opts.nodeOf ?? ((w: Workload) => w.node);
  return (node, identity) => {
    for (const w of model().workloads()) {
      if (w.identity === identity && nodeOf(w) === node) return true;
    }
    return `no workload with identity ${identity} is scheduled on node ${node}`;
  };
}
