// Builds the example proxy-wasm plugins (and the test plugins) with the installed AssemblyScript compiler.
// `npm run build:wasm` builds all of them into examples/wasm/build/. Builds are cached: a plugin is recompiled
// only when its source, the SDK, the compiler version or the flags change.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const WASM_DIR = dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = join(WASM_DIR, "build");
const ROOT = join(WASM_DIR, "..", "..");
const ASC = join(ROOT, "node_modules", ".bin", "asc");
const SDK_DIR = join(WASM_DIR, "sdk");

// The incremental GC keeps memory bounded; `_initialize` runs top-level code (the root factory registration);
// the SDK's abort logs the message and traps instead of importing env.abort.
const FLAGS = [
  "-O3",
  "--runtime",
  "incremental",
  "--exportStart",
  "_initialize",
  "--use",
  "abort=examples/wasm/sdk/index/abortHandler",
];

export const EXAMPLE_PLUGINS = [
  "add-header",
  "block-by-header",
  "count-per-path",
  "http-call",
  "noop",
  "tcp-uppercase",
] as const;
export type ExamplePlugin = (typeof EXAMPLE_PLUGINS)[number];

async function stamp(source: string): Promise<string> {
  const h = createHash("sha256");
  const pkg = JSON.parse(await readFile(join(ROOT, "node_modules", "assemblyscript", "package.json"), "utf8")) as {
    version: string;
  };
  h.update(pkg.version)
    .update(FLAGS.join(" "))
    .update(await readFile(source));
  for (const f of (await readdir(SDK_DIR)).sort()) h.update(f).update(await readFile(join(SDK_DIR, f)));
  return h.digest("hex");
}

/** Compiles one AssemblyScript plugin to `outFile` unless an up-to-date build is there; returns the output path. */
export async function buildPlugin(source: string, outFile: string, force = false): Promise<string> {
  const want = await stamp(source);
  const have = await readFile(`${outFile}.stamp`, "utf8").catch(() => "");
  const built = await readFile(outFile).then(
    () => true,
    () => false,
  );
  if (!force && built && have === want) return outFile;
  await mkdir(dirname(outFile), { recursive: true });
  // Parallel test processes may build the same plugin: compile to a private name, then rename atomically.
  const tmp = `${outFile}.${process.pid}.${Date.now()}.tmp.wasm`;
  try {
    await run(ASC, [source, "-o", tmp, ...FLAGS], { cwd: ROOT });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`asc failed for ${source}:\n${err.stderr ?? err.message}`);
  }
  await rename(tmp, outFile);
  await writeFile(`${outFile}.stamp`, want);
  return outFile;
}

/** Builds the named sources (`dir/name.ts` → `BUILD_DIR/name.wasm`), two at a time (the machine has 2 cores). */
export async function buildAll(sources: string[], force = false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const queue = [...sources];
  const worker = async () => {
    for (let src = queue.shift(); src !== undefined; src = queue.shift()) {
      const name = basename(src, ".ts");
      out[name] = await buildPlugin(src, join(BUILD_DIR, `${name}.wasm`), force);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

export function buildExamples(force = false): Promise<Record<string, string>> {
  return buildAll(
    EXAMPLE_PLUGINS.map((p) => join(WASM_DIR, "plugins", `${p}.ts`)),
    force,
  );
}

/** Test-only plugins (probe, trap) live in testdata/ so that tsc and Biome never see AssemblyScript code. */
export function buildTestPlugins(names: string[], force = false): Promise<Record<string, string>> {
  return buildAll(
    names.map((n) => join(WASM_DIR, "testdata", `${n}.ts`)),
    force,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes("--force");
  const started = Date.now();
  const built = await buildExamples(force);
  for (const [name, path] of Object.entries(built)) process.stdout.write(`${name}\t${path}\n`);
  process.stdout.write(`built in ${Date.now() - started} ms\n`);
}
