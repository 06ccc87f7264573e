// Feeds a ProxyState from the xDS client: each `update` event's Address and Authorization resources are decoded
// (src/xds/convert) and applied as one delta. A disconnect changes nothing, so the last good state keeps serving;
// the first full answer marks the state synced (data-plane.md §4.1, §(b) 10).

import type { XdsClient } from "../../xds/client.js";
import {
  type GatewayView,
  protoToAddressView,
  protoToL4Policy,
  type ServiceView as XdsService,
  type WorkloadView as XdsWorkload,
} from "../../xds/convert/index.js";
import { decodeAddress, decodeAuthorization } from "../../xds/resources.js";
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from "../../xds/types.js";
import type { ProxyState, StateDelta } from "./proxy-state.js";
import type { GatewayRef, L4Policy, ServiceView, WorkloadView } from "./types.js";

function gatewayRef(g: GatewayView | null): GatewayRef | undefined {
  if (!g) return undefined;
  return g.kind === "hostname"
    ? { hostname: { namespace: g.namespace, hostname: g.hostname }, hboneMtlsPort: g.hboneMtlsPort }
    : { address: { network: g.network, address: g.address }, hboneMtlsPort: g.hboneMtlsPort };
}

/** LEGACY_ISTIO_MTLS is refused, as ztunnel refuses it when parsing WDS. */
export function fromXdsWorkload(w: XdsWorkload): WorkloadView | undefined {
  if (w.protocol === "LEGACY_ISTIO_MTLS") return undefined;
  const waypoint = gatewayRef(w.waypoint);
  return {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    // Host-network workloads share the node's IP, so they are never found by address.
    addresses: w.hostNetwork ? [] : w.addresses,
    network: w.network,
    tunnelProtocol: w.protocol === "HBONE" ? "HBONE" : "NONE",
    trustDomain: w.trustDomain,
    serviceAccount: w.serviceAccount,
    ...(waypoint ? { waypoint } : {}),
    node: w.node,
    clusterId: w.clusterId,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadName: w.workloadName,
    workloadType: w.workloadType.toLowerCase() as WorkloadView["workloadType"],
    services: w.services,
    authorizationPolicies: w.authorizationPolicies,
    status: w.healthy ? "HEALTHY" : "UNHEALTHY",
    capacity: 1,
  };
}

export function fromXdsService(s: XdsService): ServiceView {
  const waypoint = gatewayRef(s.waypoint);
  return {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    addresses: s.vips,
    ports: s.ports,
    subjectAltNames: s.subjectAltNames,
    ...(waypoint ? { waypoint } : {}),
  };
}

/** Applies every update of `client` to `state`; returns the function that detaches. */
export function feedFromXds(state: ProxyState, client: XdsClient): () => void {
  const onUpdate = (e: { typeUrl: string; upserted: readonly string[]; removed: readonly string[] }) => {
    const resources = client.resources(e.typeUrl);
    const delta: StateDelta = {};
    if (e.typeUrl === ADDRESS_TYPE_URL) {
      const workloads: WorkloadView[] = [];
      const services: ServiceView[] = [];
      const removeWorkloads: string[] = [];
      const removeServices: string[] = [];
      for (const name of e.upserted) {
        const r = resources.get(name);
        if (!r) continue;
        const view = protoToAddressView(decodeAddress(r.resource));
        if (view.kind === "service") services.push(fromXdsService(view.service));
        else {
          const w = fromXdsWorkload(view.workload);
          if (w) workloads.push(w);
          else removeWorkloads.push(name);
        }
      }
      // Names are workload uids or `namespace/hostname`; removing an unknown one is a no-op on either side.
      for (const name of e.removed) {
        removeWorkloads.push(name);
        removeServices.push(name);
      }
      delta.workloads = { upsert: workloads, remove: removeWorkloads };
      delta.services = { upsert: services, remove: removeServices };
    } else if (e.typeUrl === AUTHORIZATION_TYPE_URL) {
      const policies: L4Policy[] = [];
      for (const name of e.upserted) {
        const r = resources.get(name);
        if (r) policies.push(protoToL4Policy(decodeAuthorization(r.resource)));
      }
      delta.policies = { upsert: policies, remove: [...e.removed] };
    } else {
      return;
    }
    state.update(delta);
  };
  const onSynced = () => state.markSynced();
  client.on("update", onUpdate);
  client.on("synced", onSynced);
  if (client.synced) state.markSynced();
  return () => {
    client.off("update", onUpdate);
    client.off("synced", onSynced);
  };
}
