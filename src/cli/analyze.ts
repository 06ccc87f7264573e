// `ambit analyze`: istioctl analyze for ambient mode, over a folder of manifests.
import type { Diagnostic } from "../api/diagnostic.js";
import { ExitCode } from "./exit-codes.js";
import { type OutputFormat, render } from "./format.js";
import type { LoadedInput } from "./input.js";
import { buildReport } from "./report.js";

export interface AnalyzeResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function formatDiagnostic(d: Diagnostic): string {
  const origin = [d.resource, d.file ? `${d.file}${d.line ? `:${d.line}` : ""}` : ""].filter(Boolean).join(" ");
  return `${d.level} [${d.code}]${origin ? ` (${origin})` : ""} ${d.message}`;
}

export function runAnalyze(input: LoadedInput, format: OutputFormat): AnalyzeResult {
  const diagnostics = input.diagnostics();
  const findings = diagnostics.some((d) => d.level === "Error" || d.level === "Warning");
  // istioctl: 65 when input could not be parsed, 79 when analyzers found issues; for every output format.
  const exitCode = input.syntaxErrors > 0 ? ExitCode.badInput : findings ? ExitCode.analyzerFindings : ExitCode.ok;
  if (format !== "text") {
    return { stdout: render(buildReport(input.model, diagnostics), format), stderr: "", exitCode };
  }
  const stdout = diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join("");
  const stderr = findings ? "" : "\u2714 No validation issues found when analyzing the input.\n";
  return { stdout, stderr, exitCode };
}
