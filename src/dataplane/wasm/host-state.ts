// State shared by every plugin of one host (one waypoint): metrics, shared data and shared queues.

import { MetricStore } from "./metrics.js";
import { SharedData, SharedQueues } from "./shared.js";

export class HostState {
  readonly metrics = new MetricStore();
  readonly sharedData = new SharedData();
  readonly queues = new SharedQueues();
}
