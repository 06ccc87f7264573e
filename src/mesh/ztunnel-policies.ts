// The mesh's view of ztunnel authorization: the policy engine's L4 translation of an AuthorizationPolicy
// (control-plane.md §8), reduced to what attachment needs: is it sent, and the ZtunnelAccepted condition.
import type { AuthorizationPolicy } from "../api/resources.js";
import { toZtunnelPolicy } from "../policy/ztunnel-policy.js";
import type { ZtunnelTranslator } from "./model.js";

export function makeZtunnelTranslator(rootNamespace: string): ZtunnelTranslator {
  return (policy: AuthorizationPolicy) => {
    const { sent, condition } = toZtunnelPolicy(policy, rootNamespace);
    return {
      sent: sent !== null,
      condition: condition ?? {
        type: "ZtunnelAccepted",
        status: "True",
        reason: "Accepted",
        message: "attached to ztunnel",
      },
    };
  };
}
