// Golden files: `UPDATE_GOLDEN=1 npm test` rewrites them; review the diff before committing.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dirname, "golden");

export function assertGolden(name: string, actual: string): void {
  const file = join(DIR, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    writeFileSync(file, actual);
    if (process.env.UPDATE_GOLDEN !== "1") assert.fail(`golden file ${name} was missing; written, check it and re-run`);
    return;
  }
  assert.equal(actual, readFileSync(file, "utf8"));
}
