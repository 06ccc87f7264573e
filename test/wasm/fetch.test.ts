// Plugin URL resolution (policy.md §5 `url`, `sha256`, `imagePullPolicy`): file://, http(s):// with a sha256
// cache, and oci:// against a small registry double implementing the distribution endpoints we use
// (manifests, blobs with a storage redirect, the anonymous bearer token flow).

import "reflect-metadata";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import * as x509 from "@peculiar/x509";
import { fetchPlugin, parseOciUrl } from "../../src/dataplane/wasm/fetch.js";
import { buildAllPlugins, close, listen, pluginBytes } from "./helpers.js";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function tar(name: string, data: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, "latin1");
  header.write("0000644\0", 100, "latin1");
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\0", 257, "latin1");
  header.fill(" ", 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

interface Image {
  manifest: Buffer;
  blobs: Map<string, Buffer>;
}

function image(layers: Array<{ mediaType: string; data: Buffer }>): Image {
  const blobs = new Map<string, Buffer>();
  const entries = layers.map((l) => {
    const digest = `sha256:${sha(l.data)}`;
    blobs.set(digest, l.data);
    return { mediaType: l.mediaType, digest, size: l.data.length };
  });
  const config = Buffer.from("{}");
  blobs.set(`sha256:${sha(config)}`, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(config)}`, size: 2 },
      layers: entries,
    }),
  );
  return { manifest, blobs };
}

/** Registry double: bearer challenge on /v2, token endpoint, manifests by tag or digest, blobs via a redirect. */
class FakeRegistry {
  readonly server: http.Server;
  readonly images = new Map<string, Image>();
  readonly hits: string[] = [];
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.hits.push(url.pathname);
    if (url.pathname === "/token") {
      const ok = url.searchParams.get("service") === "fake" && url.searchParams.get("scope")?.endsWith(":pull");
      res.writeHead(ok ? 200 : 400, { "content-type": "application/json" }).end(JSON.stringify({ token: "tok-123" }));
      return;
    }
    const storage = url.pathname.match(/^\/storage\/(sha256:[0-9a-f]+)$/);
    if (storage) {
      const blob = [...this.images.values()].map((i) => i.blobs.get(storage[1]!)).find((b) => b !== undefined);
      res.writeHead(blob ? 200 : 404).end(blob);
      return;
    }
    const m = url.pathname.match(/^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/);
    if (m === null) {
      res.writeHead(404).end();
      return;
    }
    const [, repo, kind, ref] = m;
    if (req.headers.authorization !== "Bearer tok-123") {
      res
        .writeHead(401, {
          "www-authenticate": `Bearer realm="http://127.0.0.1:${this.port}/token",service="fake",scope="repository:${repo}:pull"`,
        })
        .end();
      return;
    }
    if (kind === "blobs") {
      res.writeHead(307, { location: `/storage/${ref}` }).end();
      return;
    }
    const img =
      this.images.get(`${repo}:${ref}`) ??
      [...this.images.entries()].find(([k, i]) => k.startsWith(`${repo}:`) && `sha256:${sha(i.manifest)}` === ref)?.[1];
    if (img === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(img.manifest);
  }
}

async function selfSigned(): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=127.0.0.1",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join("\n")}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem"), key };
}

describe("fetchPlugin", () => {
  let dir: string;
  let wasm: Uint8Array;
  let downloads = 0;
  const server = http.createServer((req, res) => {
    downloads++;
    if (req.url === "/plugin.wasm") res.end(wasm);
    else res.writeHead(404).end();
  });
  let base = "";
  const registry = new FakeRegistry();

  before(async () => {
    await buildAllPlugins();
    wasm = await pluginBytes("add-header");
    dir = await mkdtemp(join(tmpdir(), "ambit-wasm-fetch-"));
    base = `http://127.0.0.1:${await listen(server)}`;
    registry.port = await listen(registry.server);
  });
  after(async () => {
    await close(server);
    await close(registry.server);
    await rm(dir, { recursive: true, force: true });
  });

  test("file:// reads the module and checks its sha256", async () => {
    const path = join(dir, "local.wasm");
    await writeFile(path, wasm);
    const url = pathToFileURL(path).href;
    const got = await fetchPlugin({ url, cacheDir: dir, sha256: sha(wasm) });
    assert.deepEqual(Buffer.from(got.bytes), Buffer.from(wasm));
    await assert.rejects(fetchPlugin({ url, cacheDir: dir, sha256: "0".repeat(64) }), {
      code: "AMBIT_WASM_SHA256_MISMATCH",
    });
  });

  test("http:// downloads once and serves later fetches from the sha256 cache", async () => {
    const cacheDir = join(dir, "http-cache");
    downloads = 0;
    const first = await fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir, sha256: sha(wasm) });
    const second = await fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir, sha256: sha(wasm) });
    const third = await fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir });
    assert.equal(downloads, 1);
    assert.equal(first.sha256, sha(wasm));
    assert.equal(second.path, first.path);
    assert.equal(third.path, first.path);
    await fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir, imagePullPolicy: "Always" });
    assert.equal(downloads, 2);
  });

  test("http:// with a wrong sha256 is rejected with AMBIT_WASM_SHA256_MISMATCH and nothing is cached", async () => {
    const cacheDir = join(dir, "mismatch-cache");
    await assert.rejects(fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir, sha256: "ab".repeat(32) }), {
      code: "AMBIT_WASM_SHA256_MISMATCH",
    });
    downloads = 0;
    await fetchPlugin({ url: `${base}/plugin.wasm`, cacheDir });
    assert.equal(downloads, 1);
  });

  test("http:// errors are AMBIT_WASM_FETCH", async () => {
    await assert.rejects(fetchPlugin({ url: `${base}/missing.wasm`, cacheDir: dir }), { code: "AMBIT_WASM_FETCH" });
  });

  test("https:// works with the CA given in the options", async () => {
    const { cert, key } = await selfSigned();
    const tls = https.createServer({ cert, key }, (_req, res) => res.end(wasm));
    const port = await new Promise<number>((resolve) =>
      tls.listen(0, "127.0.0.1", () => resolve((tls.address() as { port: number }).port)),
    );
    try {
      const url = `https://127.0.0.1:${port}/p.wasm`;
      const got = await fetchPlugin({ url, cacheDir: join(dir, "https"), ca: cert });
      assert.equal(got.sha256, sha(wasm));
      await assert.rejects(fetchPlugin({ url, cacheDir: join(dir, "https-noca") }), { code: "AMBIT_WASM_FETCH" });
    } finally {
      tls.closeAllConnections();
      await new Promise<void>((r) => tls.close(() => r()));
    }
  });

  test("oci:// pulls the Wasm-media-type layer with an anonymous bearer token", async () => {
    const img = image([{ mediaType: "application/vnd.module.wasm.content.layer.v1+wasm", data: Buffer.from(wasm) }]);
    registry.images.set("plugins/add-header:v1", img);
    registry.hits.length = 0;
    const url = `oci://127.0.0.1:${registry.port}/plugins/add-header:v1`;
    const opts = { url, cacheDir: join(dir, "oci"), insecureRegistries: ["*"], sha256: sha(img.manifest) };
    const got = await fetchPlugin(opts);
    assert.equal(got.sha256, sha(wasm));
    assert.ok(registry.hits.includes("/token"));
    assert.ok(registry.hits.some((h) => h.startsWith("/storage/")));
    registry.hits.length = 0;
    await fetchPlugin(opts);
    assert.deepEqual(registry.hits, [], "IfNotPresent serves the second pull from the cache");
  });

  test("oci:// without a scheme, single-layer compat image (gzipped tar with plugin.wasm)", async () => {
    const layer = gzipSync(tar("plugin.wasm", wasm));
    registry.images.set(
      "plugins/compat:v2",
      image([{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", data: layer }]),
    );
    const got = await fetchPlugin({
      url: `127.0.0.1:${registry.port}/plugins/compat:v2`,
      cacheDir: join(dir, "compat"),
      insecureRegistries: [`127.0.0.1:${registry.port}`],
    });
    assert.deepEqual(Buffer.from(got.bytes), Buffer.from(wasm));
  });

  test("oci:// with a sha256 that does not match the image is rejected", async () => {
    const img = image([{ mediaType: "application/vnd.module.wasm.content.layer.v1+wasm", data: Buffer.from(wasm) }]);
    registry.images.set("plugins/pinned:v1", img);
    const url = `oci://127.0.0.1:${registry.port}/plugins/pinned:v1`;
    await assert.rejects(
      fetchPlugin({ url, cacheDir: join(dir, "pinned"), insecureRegistries: ["*"], sha256: "cd".repeat(32) }),
      { code: "AMBIT_WASM_SHA256_MISMATCH" },
    );
    const byDigest = `oci://127.0.0.1:${registry.port}/plugins/pinned@sha256:${sha(img.manifest)}`;
    const got = await fetchPlugin({ url: byDigest, cacheDir: join(dir, "pinned"), insecureRegistries: ["*"] });
    assert.equal(got.sha256, sha(wasm));
    await assert.rejects(
      fetchPlugin({ url: byDigest, cacheDir: join(dir, "pinned"), insecureRegistries: ["*"], sha256: "ef".repeat(32) }),
      { code: "AMBIT_WASM_SHA256_MISMATCH" },
    );
  });

  // §5: imagePullPolicy defaults to Always for the `latest` tag.
  test("oci:// `latest` is pulled again each time unless a policy says IfNotPresent", async () => {
    const img = image([{ mediaType: "application/vnd.module.wasm.content.layer.v1+wasm", data: Buffer.from(wasm) }]);
    registry.images.set("plugins/rolling:latest", img);
    const url = `oci://127.0.0.1:${registry.port}/plugins/rolling`;
    const cacheDir = join(dir, "latest");
    await fetchPlugin({ url, cacheDir, insecureRegistries: ["*"] });
    registry.hits.length = 0;
    await fetchPlugin({ url, cacheDir, insecureRegistries: ["*"] });
    assert.ok(registry.hits.length > 0);
    registry.hits.length = 0;
    await fetchPlugin({ url, cacheDir, insecureRegistries: ["*"], imagePullPolicy: "IfNotPresent" });
    assert.deepEqual(registry.hits, []);
  });

  test("OCI references parse registry, repository, tag and digest", () => {
    assert.deepEqual(parseOciUrl("oci://ghcr.io/org/plugin:1.0"), {
      registry: "ghcr.io",
      repository: "org/plugin",
      reference: "1.0",
    });
    assert.deepEqual(parseOciUrl("oci://localhost:5000/p"), {
      registry: "localhost:5000",
      repository: "p",
      reference: "latest",
    });
    assert.deepEqual(parseOciUrl(`oci://r.io/p:1@sha256:${"a".repeat(64)}`), {
      registry: "r.io",
      repository: "p",
      reference: `sha256:${"a".repeat(64)}`,
      digest: `sha256:${"a".repeat(64)}`,
    });
  });
});
