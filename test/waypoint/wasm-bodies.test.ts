import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { buildExamples, buildTestPlugins } from "../../examples/wasm/build.js";
import {
  addHeader,
  type HeaderMap,
  removeHeader,
  replaceHeader,
  WasmPluginHost,
} from "../../src/dataplane/wasm/index.js";
import type { RequestContext } from "../../src/dataplane/waypoint/context.js";
import type { Headers } from "../../src/dataplane/waypoint/headers.js";
import { pluginCallbacks } from "../../src/dataplane/waypoint/wasm/callbacks.js";
import { applyResponseHeaderMap, responseHeaderMap } from "../../src/dataplane/waypoint/wasm/headers.js";
import { PluginSlot, readWasmPlugin, WasmFilter } from "../../src/dataplane/waypoint/wasm/index.js";

let built: Record<string, string> = {};

/** A request as the chain hands it to a filter: HTTP/1.1 POST with a 10-byte body. */
function request(): RequestContext {
  const headers: Headers = { "content-type": "text/plain", "content-length": "10" };
  const res = new PassThrough();
  return {
    tunnel: {
      remoteAddress: "10.0.0.1",
      remotePort: 40000,
      peer: "spiffe://t/ns/a/sa/b",
      target: { host: "10.96.0.10", port: 80 },
    },
    downstream: { version: "HTTP/1.1", req: { headers: { ...headers } }, res },
    method: "POST",
    path: "/",
    authority: "reviews",
    headers,
  } as unknown as RequestContext;
}

async function drain(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

// docs/wasm.md "In the waypoint" (bodies): body callbacks run only for modules that export them.
describe("Wasm plugin bodies in the waypoint", () => {
  const host = new WasmPluginHost();
  let cacheDir = "";
  const slots: PluginSlot[] = [];

  async function filterFor(name: string): Promise<WasmFilter> {
    const spec = readWasmPlugin({
      apiVersion: "extensions.istio.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name, namespace: "default" },
      spec: { url: pathToFileURL(built[name]!).href },
    });
    const slot = new PluginSlot(spec.key, {
      host,
      cacheDir,
      baseDir: process.cwd(),
      hostCalls: { httpCall: () => Promise.reject(new Error("no calls")) },
      log: () => {},
      fetchTimeoutMs: 5000,
    });
    slots.push(slot);
    await slot.update(spec);
    assert.equal(slot.state?.kind, "ready");
    return new WasmFilter(spec, slot);
  }

  before(async () => {
    built = { ...(await buildExamples()), ...(await buildTestPlugins(["probe"])) };
    cacheDir = await mkdtemp(join(tmpdir(), "ambit-wasm-bodies-"));
  });

  after(async () => {
    for (const s of slots) s.close();
    host.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("the SDK exports body callbacks only for plugins that re-export sdk/body-exports", async () => {
    assert.deepEqual(pluginCallbacks(await readFile(built.noop!)), { requestBody: false, responseBody: false });
    assert.deepEqual(pluginCallbacks(await readFile(built["add-header"]!)), {
      requestBody: false,
      responseBody: false,
    });
    assert.deepEqual(pluginCallbacks(await readFile(built.probe!)), { requestBody: true, responseBody: true });
  });

  it("an unreadable module is taken to export every body callback", () => {
    const truncated = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 7, 0x80]);
    assert.deepEqual(pluginCallbacks(truncated), { requestBody: true, responseBody: true });
  });

  it("a plugin without body callbacks keeps both content-lengths and leaves the bodies' streams as they are", async () => {
    const f = await filterFor("noop");
    const ctx = request();
    assert.equal(f.onRequest(ctx), undefined);
    assert.equal(ctx.headers["content-length"], "10");
    const body = Readable.from([Buffer.from("hello wasm")]);
    assert.equal(f.requestBody(ctx, body), body);
    const headers: Headers = { "content-type": "text/plain", "content-length": "5" };
    f.onResponseHeaders(ctx, 200, headers);
    assert.deepEqual(headers, { "content-type": "text/plain", "content-length": "5" });
    const resBody = Readable.from([Buffer.from("hello")]);
    assert.equal(f.responseBody(ctx, resBody), resBody);
    f.onDone(ctx);
  });

  it("a plugin with body callbacks sees and rewrites both bodies, which then travel without content-length", async () => {
    const f = await filterFor("probe");
    const ctx = request();
    assert.equal(f.onRequest(ctx), undefined);
    assert.equal(ctx.headers["content-length"], undefined);
    // probe upper-cases the whole request body and appends "!" on every response body callback.
    assert.equal(
      await drain(f.requestBody(ctx, Readable.from([Buffer.from("hello "), Buffer.from("wasm")]))),
      "HELLO WASM",
    );
    const headers: Headers = { "content-type": "text/plain", "content-length": "5" };
    f.onResponseHeaders(ctx, 200, headers);
    assert.equal(headers["content-length"], undefined);
    assert.match(await drain(f.responseBody(ctx, Readable.from([Buffer.from("hello")]))), /^hello!+$/);
    f.onDone(ctx);
  });
});

// The write-back of a header map after a callback: unchanged or appended-to maps keep the record; any other edit
// rebuilds it. Both must give what rebuilding from the map always gave.
describe("header map write-back", () => {
  const rebuilt = (map: HeaderMap): Headers => {
    const out: Headers = {};
    for (const [name, value] of map) {
      const k = name.toLowerCase();
      if (k.startsWith(":")) continue;
      const cur = out[k];
      out[k] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
    }
    return out;
  };
  const normal = (h: Headers) =>
    Object.entries(h).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v] as const);

  it("an unchanged map keeps the record object and its key order", () => {
    const headers: Headers = { b: "1", a: ["x", "y"], c: "3" };
    const sent = responseHeaderMap(200, headers);
    applyResponseHeaderMap(headers, sent);
    assert.deepEqual(Object.entries(headers), [
      ["b", "1"],
      ["a", ["x", "y"]],
      ["c", "3"],
    ]);
  });

  it("appended headers join the record; repeated names become lists", () => {
    const headers: Headers = { "x-wasm": "upstream", b: "1" };
    const sent = responseHeaderMap(200, headers);
    addHeader(sent.map, "X-Wasm", "plugin");
    addHeader(sent.map, "x-new", "v");
    applyResponseHeaderMap(headers, sent);
    assert.deepEqual(headers, { "x-wasm": ["upstream", "plugin"], b: "1", "x-new": "v" });
  });

  it("any edit gives the same headers as rebuilding from the map", () => {
    const name = fc.constantFrom("a", "b", "c", "X-C", ":status");
    const edit = fc.oneof(
      fc.record({ op: fc.constant("add" as const), name, value: fc.string({ maxLength: 3 }) }),
      fc.record({ op: fc.constant("replace" as const), name, value: fc.string({ maxLength: 3 }) }),
      fc.record({ op: fc.constant("remove" as const), name, value: fc.constant("") }),
    );
    const record = fc.dictionary(
      fc.constantFrom("a", "b", "c", "x-c"),
      fc.oneof(fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 3 }), { minLength: 2, maxLength: 3 })),
    );
    fc.assert(
      fc.property(record, fc.array(edit, { maxLength: 4 }), (start, edits) => {
        const headers: Headers = { ...start };
        const sent = responseHeaderMap(200, headers);
        for (const e of edits) {
          if (e.op === "add") addHeader(sent.map, e.name, e.value);
          else if (e.op === "replace") replaceHeader(sent.map, e.name, e.value);
          else removeHeader(sent.map, e.name);
        }
        applyResponseHeaderMap(headers, sent);
        assert.deepEqual(normal(headers), normal(rebuilt(sent.map)));
      }),
    );
  });
});
