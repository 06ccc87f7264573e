// `ambit get workloads|services|policies`: tables in istioctl ztunnel-config's layouts.
import type { MeshModel } from "../mesh/model.js";
import { render } from "./format.js";
import { buildReport } from "./report.js";
import { formatTable } from "./table.js";
import { describeAttachment, endpointsOf, policyAction } from "./views.js";

export type GetKind = "workloads" | "services" | "policies";

export interface GetOptions {
  namespace?: string;
  format: "text" | "json" | "yaml";
}

const inNs = (ns: string | undefined) => (x: { namespace: string }) => ns === undefined || x.namespace === ns;

export function runGet(model: MeshModel, kind: GetKind, options: GetOptions): string {
  if (options.format !== "text") {
    const report = buildReport(model, []);
    return render(report[kind].filter(inNs(options.namespace)), options.format);
  }
  switch (kind) {
    case "workloads": {
      const rows = model
        .workloads()
        .filter(inNs(options.namespace))
        .sort(
          (a, b) =>
            a.namespace.localeCompare(b.namespace) ||
            a.name.localeCompare(b.name) ||
            (a.node ?? "").localeCompare(b.node ?? ""),
        )
        .map((w) => [
          w.namespace,
          w.name,
          w.ip ?? "-",
          w.node ?? "-",
          w.binding.waypoint?.name ?? "None",
          w.captured ? "HBONE" : "TCP",
        ]);
      return formatTable([["NAMESPACE", "POD NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"], ...rows]);
    }
    case "services": {
      const rows = model
        .services()
        .filter(inNs(options.namespace))
        .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name))
        .map((s) => {
          const endpoints = endpointsOf(model, s);
          const name = s.kind === "Service" ? s.name : (s.hostnames[0] ?? s.name);
          return [
            s.namespace,
            name,
            s.vips.join(",") || "-",
            s.binding.waypoint?.name ?? "None",
            `${endpoints.length}/${endpoints.length}`,
          ];
        });
      return formatTable([["NAMESPACE", "SERVICE NAME", "SERVICE VIP", "WAYPOINT", "ENDPOINTS"], ...rows]);
    }
    case "policies": {
      const rows = model
        .policies()
        .filter(inNs(options.namespace))
        .sort(
          (a, b) =>
            a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind),
        )
        .map((p) => [
          p.namespace,
          p.name,
          p.kind,
          policyAction(p),
          p.attachedTo.length > 0 ? p.attachedTo.map(describeAttachment).join(", ") : "nowhere",
        ]);
      return formatTable([["NAMESPACE", "POLICY NAME", "KIND", "ACTION", "ENFORCED AT"], ...rows]);
    }
  }
}
