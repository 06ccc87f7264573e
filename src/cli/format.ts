// Output formats shared by the commands: text (default), json, yaml.
import { stringify } from "yaml";
import { AmbitError } from "../errors.js";

export type OutputFormat = "text" | "json" | "yaml";

export function parseOutputFormat(
  value: string | undefined,
  allowed: ReadonlyArray<OutputFormat> = ["text", "json", "yaml"],
): OutputFormat {
  const v = value ?? "text";
  // istioctl calls the text format `log` for analyze and `short` for ztunnel-config; accept both.
  const normalised = v === "log" || v === "short" || v === "table" ? "text" : v;
  if (!(allowed as readonly string[]).includes(normalised)) {
    throw new AmbitError("AMBIT_CLI_USAGE", `unknown output format "${v}": use one of ${allowed.join(", ")}`);
  }
  return normalised as OutputFormat;
}

export function render(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}
