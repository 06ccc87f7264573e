// Istio-compatible telemetry shared by the data-plane proxies: label set, TCP counters, access-log lines.
// HTTP metrics (istio_requests_total, durations, sizes) belong next to these, using the same TRAFFIC_LABEL_NAMES.
export { type AccessLogEntry, type AccessLogSink, formatAccessLog, stdoutSink } from "./access-log.js";
export {
  type PeerInfo,
  type Reporter,
  type ServiceInfo,
  TRAFFIC_LABEL_NAMES,
  type TrafficLabelInput,
  type TrafficLabelName,
  type TrafficLabels,
  trafficLabels,
  UNKNOWN,
} from "./labels.js";
export { type TcpBytes, TcpMetrics } from "./tcp-metrics.js";
