// `-f PATH...` → a mesh model plus what loading found. Shared by every offline command.
import { compareDiagnostics, type Diagnostic } from "../api/diagnostic.js";
import { loadManifests } from "../api/load.js";
import { readManifestPaths } from "../config/files.js";
import { AmbitError } from "../errors.js";
import { isValidTrustDomain } from "../identity/spiffe.js";
import { analyze } from "../mesh/diagnostics.js";
import { MeshModel } from "../mesh/model.js";
import { POLICY_SPEC_VALIDATORS } from "../policy/validate.js";

export interface InputOptions {
  file: string[];
  snapshot?: boolean;
  /** MeshConfig trustDomain; default cluster.local. */
  trustDomain?: string;
}

export interface LoadedInput {
  model: MeshModel;
  loadDiagnostics: Diagnostic[];
  /** Load diagnostics plus the analyzers' findings, sorted. */
  diagnostics(): Diagnostic[];
  syntaxErrors: number;
}

export function loadInput(options: InputOptions): LoadedInput {
  if (!options.file || options.file.length === 0) {
    throw new AmbitError("AMBIT_CLI_USAGE", "no input: pass one or more -f PATH (a file, a folder, or - for stdin)");
  }
  const read = readManifestPaths(options.file);
  if (read.unreadable.length > 0) {
    const what = read.unreadable.map((u) => `${u.path} (${u.error})`).join(", ");
    throw new AmbitError("AMBIT_CLI_UNREADABLE", `cannot read ${what}`);
  }
  if (options.trustDomain !== undefined && !isValidTrustDomain(options.trustDomain)) {
    throw new AmbitError("AMBIT_CLI_USAGE", `--trust-domain: "${options.trustDomain}" is not a valid trust domain`);
  }
  const loaded = loadManifests(read.texts, POLICY_SPEC_VALIDATORS);
  const model = MeshModel.build(loaded.objects, {
    mode: options.snapshot ? "snapshot" : "plan",
    ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}),
  });
  let all: Diagnostic[] | undefined;
  return {
    model,
    loadDiagnostics: loaded.diagnostics,
    syntaxErrors: loaded.syntaxErrors,
    diagnostics: () => {
      all ??= [...loaded.diagnostics, ...analyze(model)].sort(compareDiagnostics);
      return all;
    },
  };
}
