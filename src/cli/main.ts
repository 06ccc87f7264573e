#!/usr/bin/env -S node --max-semi-space-size=2
// The data plane runs in this process under `ambit up`: a small young generation frees HBONE's per-record
// buffers cheaply (docs/identity-and-hbone.md).
import { runCli } from "./run.js";

const result = await runCli(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
