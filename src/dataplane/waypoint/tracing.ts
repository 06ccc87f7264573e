// W3C trace context (policy.md §4.4): keep the caller's trace id and sampling decision, start a new span for the
// waypoint's hop, and sample fresh traces at the Telemetry's rate.

import { randomBytes } from "node:crypto";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceDecision {
  traceparent: string;
  sampled: boolean;
  traceId: string;
  /** The caller's span, when it sent one. */
  parentId: string | undefined;
}

export function continueTrace(
  incoming: string | undefined,
  samplingPercent: number,
  random = Math.random,
): TraceDecision {
  const spanId = randomBytes(8).toString("hex");
  const m = incoming ? TRACEPARENT.exec(incoming) : null;
  if (m && m[1] !== "0".repeat(32) && m[2] !== "0".repeat(16)) {
    const sampled = (Number.parseInt(m[3]!, 16) & 1) === 1;
    return { traceparent: `00-${m[1]}-${spanId}-${sampled ? "01" : "00"}`, sampled, traceId: m[1]!, parentId: m[2] };
  }
  const traceId = randomBytes(16).toString("hex");
  const sampled = random() * 100 < samplingPercent;
  return { traceparent: `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`, sampled, traceId, parentId: undefined };
}
