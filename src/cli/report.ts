// The JSON contract of `ambit analyze -o json` (docs/analyze-json.md). Scripts depend on it: change with care.
import type { Diagnostic } from "../api/diagnostic.js";
import type { Condition } from "../api/resources.js";
import type { MeshModel } from "../mesh/model.js";

export interface ReportCondition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
}

export interface AnalysisReport {
  workloads: Array<{
    kind: string;
    namespace: string;
    name: string;
    captured: boolean;
    identity: string;
    waypoint: string | null;
    conditions: ReportCondition[];
  }>;
  services: Array<{
    kind: string;
    namespace: string;
    name: string;
    waypoint: string | null;
    conditions: ReportCondition[];
  }>;
  waypoints: Array<{ namespace: string; name: string; trafficType: string; ready: boolean; address: string | null }>;
  policies: Array<{
    kind: string;
    namespace: string;
    name: string;
    attachedTo: string[];
    conditions: ReportCondition[];
  }>;
  diagnostics: Array<{
    level: string;
    code: string;
    resource: string;
    message: string;
    file: string | null;
    line: number | null;
  }>;
}

const byNsName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);

function conditions(cs: ReadonlyArray<Condition>): ReportCondition[] {
  return cs.map((c) => ({
    type: c.type,
    status: c.status === "True" ? "True" : "False",
    reason: c.reason,
    message: c.message,
  }));
}

const wpName = (w: { namespace: string; name: string } | null | undefined) => (w ? `${w.namespace}/${w.name}` : null);

export function buildReport(model: MeshModel, diagnostics: ReadonlyArray<Diagnostic>): AnalysisReport {
  return {
    workloads: model
      .workloads()
      .map((w) => ({
        kind: w.kind,
        namespace: w.namespace,
        name: w.name,
        captured: w.captured,
        identity: w.identity,
        waypoint: wpName(w.binding.waypoint),
        conditions: conditions(w.conditions),
      }))
      .sort((a, b) => byNsName(a, b) || a.kind.localeCompare(b.kind)),
    services: model
      .services()
      .map((s) => ({
        kind: s.kind,
        namespace: s.namespace,
        name: s.name,
        waypoint: wpName(s.binding.waypoint),
        conditions: conditions(s.conditions),
      }))
      .sort((a, b) => byNsName(a, b) || a.kind.localeCompare(b.kind)),
    waypoints: model
      .waypoints()
      .filter((w) => w.meshManaged || w.ready)
      .map((w) => ({
        namespace: w.namespace,
        name: w.name,
        trafficType: w.trafficType,
        ready: w.ready,
        address: w.address,
      }))
      .sort(byNsName),
    policies: model
      .policies()
      .map((p) => ({
        kind: p.kind,
        namespace: p.namespace,
        name: p.name,
        attachedTo: [...p.attachedTo],
        conditions: conditions(p.conditions),
      }))
      .sort((a, b) => byNsName(a, b) || a.kind.localeCompare(b.kind)),
    diagnostics: diagnostics.map((d) => ({
      level: d.level,
      code: d.code,
      resource: d.resource,
      message: d.message,
      file: d.file ?? null,
      line: d.line ?? null,
    })),
  };
}
