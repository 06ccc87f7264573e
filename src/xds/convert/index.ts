// Conversions between Ambit's types and the xDS protos: what the control plane encodes and the data plane decodes.
export {
  type AddressContext,
  canonicalName,
  canonicalRevision,
  DEFAULT_CLUSTER_ID,
  gatewayAddress,
  HBONE_MTLS_PORT,
  type ServiceContext,
  serviceAddress,
  serviceToProto,
  type WorkloadContext,
  workloadAddress,
  workloadToProto,
  workloadUid,
} from "./address.js";
export {
  type AddressView,
  type GatewayView,
  type PortView,
  protoToAddressView,
  protoToGatewayView,
  protoToServiceView,
  protoToWorkloadView,
  type ServiceView,
  type WorkloadView,
} from "./address-views.js";
export { l4PolicyToProto, protoToL4Policy } from "./authorization.js";
export { bytesToIp, ipToBytes } from "./ip-bytes.js";
