// What every pod proxy of one ztunnel shares: the state it asks, the telemetry it writes, the connections it
// tracks, and how it reaches apps and certificates.

import type { Socket } from "node:net";
import type { CertificateManager } from "../../identity/cert-manager.js";
import type { ProxyState } from "../state/proxy-state.js";
import type { WorkloadView } from "../state/types.js";
import type { AccessLogSink } from "../telemetry/access-log.js";
import type { TcpMetrics } from "../telemetry/tcp-metrics.js";
import type { ConnectionTracker } from "./connections.js";
import type { Destination, Picker } from "./route.js";

/**
 * Opens the inbound leg to the app. The runtime's capture module supplies a transparent connector that binds the
 * peer's IP inside the pod's netns (data-plane.md §2.5); the default is a plain connect (the app sees our IP).
 * The socket must be allowHalfOpen.
 */
export type AppConnector = (dst: Destination, src: Destination) => Promise<Socket>;

/** The original destination of a captured connection (SO_ORIGINAL_DST, or a per-destination port map). */
export type OriginalDestination = (socket: Socket) => Destination | undefined;

export interface ProxyContext {
  state: ProxyState;
  certificates: CertificateManager;
  metrics: TcpMetrics;
  log: AccessLogSink;
  tracker: ConnectionTracker;
  pick: Picker;
  hbonePort: number;
  trustDomain: string;
  connectApp: AppConnector;
  /** Resolves the local workload, waiting up to ztunnel's 5 s for the control plane to send it. */
  localWorkload(uid: string): Promise<WorkloadView | undefined>;
}
