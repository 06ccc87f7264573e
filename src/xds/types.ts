// The vocabulary shared by the xDS server, the client and whoever feeds them (the mesh model).
import type { Any } from "@bufbuild/protobuf/wkt";

// Type URLs a real ztunnel subscribes to (spec data-plane.md §4.1), plus Ambit's waypoint configuration.
export const ADDRESS_TYPE_URL = "type.googleapis.com/istio.workload.Address";
export const AUTHORIZATION_TYPE_URL = "type.googleapis.com/istio.security.Authorization";
export const WAYPOINT_CONFIG_TYPE_URL = "type.googleapis.com/ambit.waypoint.WaypointConfig";

/** One named resource as the data plane sees it: an opaque version and the packed message. */
export interface VersionedResource {
  readonly version: string;
  readonly resource: Any;
}

export type ResourceListener = (
  typeUrl: string,
  upserts: ReadonlyMap<string, VersionedResource>,
  removes: readonly string[],
) => void;

/**
 * What the xDS server serves. The mesh model implements it: `snapshot` answers a new subscriber,
 * `subscribe` streams incremental changes, from which the server derives every delta it pushes.
 */
export interface ResourceSource {
  snapshot(typeUrl: string): ReadonlyMap<string, VersionedResource>;
  /** Returns the function that unsubscribes. */
  subscribe(listener: ResourceListener): () => void;
}
