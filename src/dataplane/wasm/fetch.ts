// Resolves a WasmPlugin `url` to module bytes (policy.md §5): file://, http(s):// and oci:// (the default when no
// scheme is given). Downloads are cached by content sha256 in cacheDir, with a URL index for IfNotPresent.

import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { AmbitError } from "../../errors.js";

export interface FetchOptions {
  url: string;
  /** Expected sha256 (hex). http(s)/file: of the module; oci: of the image manifest (or of the module). */
  sha256?: string;
  cacheDir: string;
  imagePullPolicy?: "IfNotPresent" | "Always";
  /** Registry credentials from imagePullSecret; without them the anonymous token flow is used. */
  credentials?: { username: string; password: string };
  /** Registries (host[:port]) reached over plain HTTP; "*" for all. */
  insecureRegistries?: string[];
  /** Extra CA certificates (PEM) for https downloads and registries. */
  ca?: string | Buffer | Array<string | Buffer>;
  timeoutMs?: number;
}

export interface FetchedPlugin {
  bytes: Uint8Array;
  /** sha256 of the module bytes. */
  sha256: string;
  /** Where the cached copy lives (the file itself for file:// URLs). */
  path: string;
}

const WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm";
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const MAX_REDIRECTS = 5;

const sha256hex = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function fetchError(url: string, message: string, cause?: unknown): AmbitError {
  return new AmbitError("AMBIT_WASM_FETCH", `fetching ${url}: ${message}`, { cause });
}

function mismatch(url: string, expected: string, actual: string): AmbitError {
  return new AmbitError(
    "AMBIT_WASM_SHA256_MISMATCH",
    `module from ${url} has sha256 ${actual}, which does not match the expected ${expected}`,
  );
}

export async function fetchPlugin(opts: FetchOptions): Promise<FetchedPlugin> {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(opts.url) ? opts.url : `oci://${opts.url}`;
  const expected = opts.sha256?.toLowerCase();
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  if (scheme === "file") {
    const path = fileURLToPath(url);
    const bytes = new Uint8Array(await readFile(path).catch((e) => Promise.reject(fetchError(url, e.message, e))));
    const sha = sha256hex(bytes);
    if (expected !== undefined && expected !== sha) throw mismatch(url, expected, sha);
    return { bytes, sha256: sha, path };
  }
  if (scheme === "http" || scheme === "https") return fetchHttp(url, expected, opts);
  if (scheme === "oci") return fetchOci(url, expected, opts);
  throw fetchError(url, `unsupported scheme ${scheme}`);
}

class Cache {
  constructor(private readonly dir: string) {}

  private modulePath(sha: string) {
    return join(this.dir, "sha256", `${sha}.wasm`);
  }

  async byDigest(sha: string): Promise<FetchedPlugin | undefined> {
    const path = this.modulePath(sha);
    const bytes = await readFile(path).catch(() => undefined);
    // A corrupted cache entry is ignored and replaced by a fresh download.
    if (bytes === undefined || sha256hex(bytes) !== sha) return undefined;
    return { bytes: new Uint8Array(bytes), sha256: sha, path };
  }

  async byUrl(url: string): Promise<FetchedPlugin | undefined> {
    const sha = await readFile(join(this.dir, "urls", sha256hex(url)), "utf8").catch(() => undefined);
    return sha === undefined ? undefined : this.byDigest(sha.trim());
  }

  async store(url: string, bytes: Uint8Array): Promise<FetchedPlugin> {
    const sha = sha256hex(bytes);
    const path = this.modulePath(sha);
    await writeAtomic(path, bytes);
    await writeAtomic(join(this.dir, "urls", sha256hex(url)), Buffer.from(sha));
    return { bytes, sha256: sha, path };
  }
}

async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

async function fetchHttp(url: string, expected: string | undefined, opts: FetchOptions): Promise<FetchedPlugin> {
  const cache = new Cache(opts.cacheDir);
  if (opts.imagePullPolicy !== "Always") {
    const hit = expected !== undefined ? await cache.byDigest(expected) : await cache.byUrl(url);
    if (hit !== undefined) return hit;
  }
  const res = await get(url, {}, opts);
  if (res.status !== 200) throw fetchError(url, `HTTP ${res.status}`);
  const sha = sha256hex(res.body);
  if (expected !== undefined && expected !== sha) throw mismatch(url, expected, sha);
  return cache.store(url, res.body);
}

interface OciRef {
  registry: string;
  repository: string;
  reference: string;
  digest?: string;
}

export function parseOciUrl(url: string): OciRef {
  const rest = url.replace(/^oci:\/\//i, "");
  const slash = rest.indexOf("/");
  if (slash <= 0) throw fetchError(url, "an OCI reference needs a registry and a repository");
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = path.indexOf("@");
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
  }
  const colon = path.lastIndexOf(":");
  const tag = colon > path.lastIndexOf("/") ? path.slice(colon + 1) : undefined;
  const repository = tag === undefined ? path : path.slice(0, colon);
  const ref: OciRef = { registry, repository, reference: digest ?? tag ?? "latest" };
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

async function fetchOci(url: string, expected: string | undefined, opts: FetchOptions): Promise<FetchedPlugin> {
  const ref = parseOciUrl(url);
  const urlDigest = ref.digest?.replace(/^sha256:/, "").toLowerCase();
  if (expected !== undefined && urlDigest !== undefined && expected !== urlDigest)
    throw mismatch(url, expected, urlDigest);
  const cache = new Cache(opts.cacheDir);
  // Istio: IfNotPresent by default, Always when the tag is `latest` and no policy is set.
  const policy =
    opts.imagePullPolicy ?? (ref.digest === undefined && ref.reference === "latest" ? "Always" : "IfNotPresent");
  if (policy === "IfNotPresent") {
    const hit = await cache.byUrl(`${url}#${expected ?? ""}`);
    if (hit !== undefined) return hit;
  }
  const insecure = opts.insecureRegistries?.some((r) => r === "*" || r === ref.registry) ?? false;
  const base = `${insecure ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
  const registry = new RegistryClient(opts);
  const manifestRes = await registry.get(`${base}/manifests/${ref.reference}`, { accept: MANIFEST_TYPES });
  if (manifestRes.status !== 200) throw fetchError(url, `manifest: HTTP ${manifestRes.status}`);
  const manifestDigest = sha256hex(manifestRes.body);
  if (urlDigest !== undefined && urlDigest !== manifestDigest) throw mismatch(url, urlDigest, manifestDigest);
  const manifest = JSON.parse(Buffer.from(manifestRes.body).toString("utf8")) as {
    layers?: Array<{ mediaType?: string; digest?: string }>;
  };
  const layers = manifest.layers ?? [];
  const layer = layers.find((l) => l.mediaType === WASM_LAYER) ?? (layers.length === 1 ? layers[0] : undefined);
  if (layer?.digest === undefined) throw fetchError(url, "the image has no Wasm layer and is not a single-layer image");
  const blobRes = await registry.get(`${base}/blobs/${layer.digest}`, {});
  if (blobRes.status !== 200) throw fetchError(url, `blob: HTTP ${blobRes.status}`);
  const blobSha = sha256hex(blobRes.body);
  if (`sha256:${blobSha}` !== layer.digest) throw mismatch(url, layer.digest.replace(/^sha256:/, ""), blobSha);
  const bytes = extractModule(url, blobRes.body);
  const moduleSha = sha256hex(bytes);
  if (expected !== undefined && expected !== manifestDigest && expected !== moduleSha) {
    throw mismatch(url, expected, manifestDigest);
  }
  return cache.store(`${url}#${expected ?? ""}`, bytes);
}

/** A Wasm layer is the module itself; a compat image layer is a (gzipped) tar holding plugin.wasm. */
function extractModule(url: string, blob: Uint8Array): Uint8Array {
  const isWasm = (b: Uint8Array) => b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;
  if (isWasm(blob)) return blob;
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? new Uint8Array(gunzipSync(blob)) : blob;
  const files = untar(tar);
  const entry =
    files.find((f) => f.name.replace(/^\.\//, "") === "plugin.wasm") ?? files.find((f) => f.name.endsWith(".wasm"));
  if (entry === undefined || !isWasm(entry.data)) throw fetchError(url, "no plugin.wasm in the image layer");
  return entry.data;
}

function untar(tar: Uint8Array): Array<{ name: string; data: Uint8Array }> {
  const out: Array<{ name: string; data: Uint8Array }> = [];
  const buf = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength);
  const field = (at: number, len: number) => buf.toString("latin1", at, at + len).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= buf.length; ) {
    const name = field(at, 100);
    if (name === "") break;
    const size = Number.parseInt(field(at + 124, 12).trim() || "0", 8);
    const type = field(at + 156, 1);
    const prefix = field(at + 345, 155);
    if (type === "0" || type === "") {
      out.push({ name: prefix ? `${prefix}/${name}` : name, data: tar.subarray(at + 512, at + 512 + size) });
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** A registry client for the anonymous (or basic-credential) bearer token flow of the distribution API. */
class RegistryClient {
  private token: string | undefined;

  constructor(private readonly opts: FetchOptions) {}

  async get(url: string, headers: Record<string, string>): Promise<Response> {
    const auth = (): Record<string, string> =>
      this.token === undefined ? headers : { ...headers, authorization: `Bearer ${this.token}` };
    let res = await get(url, auth(), this.opts);
    if (res.status !== 401) return res;
    const challenge = String(res.headers["www-authenticate"] ?? "");
    if (/^basic/i.test(challenge) && this.opts.credentials !== undefined) {
      return get(url, { ...headers, authorization: this.basic() }, this.opts);
    }
    if (!/^bearer/i.test(challenge)) return res;
    this.token = await this.fetchToken(url, challenge);
    res = await get(url, auth(), this.opts);
    return res;
  }

  private basic(): string {
    const c = this.opts.credentials!;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
  }

  private async fetchToken(url: string, challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (params.realm === undefined) throw fetchError(url, "bearer challenge without a realm");
    const tokenUrl = new URL(params.realm);
    if (params.service !== undefined) tokenUrl.searchParams.set("service", params.service);
    if (params.scope !== undefined) tokenUrl.searchParams.set("scope", params.scope);
    const headers: Record<string, string> = this.opts.credentials === undefined ? {} : { authorization: this.basic() };
    const res = await get(tokenUrl.toString(), headers, this.opts);
    if (res.status !== 200) throw fetchError(url, `token endpoint: HTTP ${res.status}`);
    const body = JSON.parse(Buffer.from(res.body).toString("utf8")) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (token === undefined) throw fetchError(url, "token endpoint returned no token");
    return token;
  }
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

/** GET with redirects; credentials are not forwarded to another host (blob storage redirects). */
async function get(url: string, headers: Record<string, string>, opts: FetchOptions, hops = 0): Promise<Response> {
  const res = await getOnce(url, headers, opts);
  const location = res.headers.location;
  if (res.status >= 300 && res.status < 400 && location !== undefined) {
    if (hops >= MAX_REDIRECTS) throw fetchError(url, "too many redirects");
    const next = new URL(location, url);
    const sameHost = next.host === new URL(url).host;
    const { authorization: _dropped, ...rest } = headers;
    return get(next.toString(), sameHost ? headers : rest, opts, hops + 1);
  }
  return res;
}

function getOnce(url: string, headers: Record<string, string>, opts: FetchOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.get(u, { headers, ca: opts.ca, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }),
      );
      res.on("error", (e) => reject(fetchError(url, e.message, e)));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => reject(fetchError(url, e.message, e)));
  });
}
