// xDS benchmark: push latency of a one-resource change to 1/10/100 clients, and initial sync of 100k
// Address resources, for Ambit's delta ADS server+client vs a baseline that writes the same responses
// on a raw gRPC stream with no delta bookkeeping (no subscriptions, nonces, ACKs or validation).
// Run: npm run bench:xds. Everything shares one process on a shared 2-core machine: numbers are noisy.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { XdsClient } from "../src/xds/client.js";
import {
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  ResourceSchema,
} from "../src/xds/gen/envoy/service/discovery/v3/discovery_pb.js";
import { AddressSchema } from "../src/xds/gen/istio/workload/workload_pb.js";
import { AdsClient, type AdsClientStream, adsService } from "../src/xds/grpc.js";
import { MemorySource } from "../src/xds/memory-source.js";
import { addressResource } from "../src/xds/resources.js";
import { XdsServer } from "../src/xds/server.js";
import { ADDRESS_TYPE_URL, type VersionedResource } from "../src/xds/types.js";

const CHUNK_BYTES = 1 << 20;

function address(i: number, generation = 0): [string, VersionedResource] {
  return addressResource(
    create(AddressSchema, {
      type: {
        case: "workload",
        value: {
          uid: `cluster1//v1/Pod/ns${i % 50}/pod-${i}`,
          name: `pod-${i}`,
          namespace: `ns${i % 50}`,
          addresses: [new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])],
          serviceAccount: `sa-${i % 20}`,
          node: `node-${i % 10}`,
          tunnelProtocol: 1,
          canonicalName: `app-${i % 100}`,
          canonicalRevision: `v${generation}`,
          services: {
            [`ns${i % 50}/svc-${i % 100}.ns${i % 50}.svc.cluster.local`]: {
              ports: [{ servicePort: 80, targetPort: 8080 }],
            },
          },
        },
      },
    }),
  );
}

function responses(entries: [string, VersionedResource][], nonce: () => string): DeltaDiscoveryResponse[] {
  const out: DeltaDiscoveryResponse[] = [];
  let chunk: [string, VersionedResource][] = [];
  let bytes = 0;
  const emit = () =>
    out.push(
      create(DeltaDiscoveryResponseSchema, {
        typeUrl: ADDRESS_TYPE_URL,
        nonce: nonce(),
        resources: chunk.map(([name, r]) => create(ResourceSchema, { name, version: r.version, resource: r.resource })),
      }),
    );
  for (const e of entries) {
    const size = e[1].resource.value.length + e[0].length + 64;
    if (chunk.length > 0 && bytes + size > CHUNK_BYTES) {
      emit();
      chunk = [];
      bytes = 0;
    }
    chunk.push(e);
    bytes += size;
  }
  emit();
  return out;
}

/** The baseline: answers a stream's first request with the given responses and can broadcast more. */
class RawServer {
  readonly calls = new Set<grpc.ServerDuplexStream<unknown, DeltaDiscoveryResponse>>();
  readonly #server = new grpc.Server();
  #n = 0;
  port = 0;

  constructor(initial: () => [string, VersionedResource][]) {
    this.#server.addService(adsService, {
      deltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, DeltaDiscoveryResponse>) => {
        this.calls.add(call);
        call.once("data", () => {
          for (const r of responses(initial(), () => String(++this.#n))) call.write(r);
        });
        call.on("data", () => {});
        call.on("error", () => this.calls.delete(call));
        call.on("cancelled", () => this.calls.delete(call));
      },
    });
  }

  async start(): Promise<void> {
    this.port = await new Promise<number>((res, rej) =>
      this.#server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
  }

  broadcast(entry: [string, VersionedResource]): void {
    for (const call of this.calls) for (const r of responses([entry], () => String(++this.#n))) call.write(r);
  }

  stop(): void {
    this.#server.forceShutdown();
  }
}

class RawClient {
  readonly #client: AdsClient;
  readonly #stream: AdsClientStream;
  received = 0;
  onData: (r: DeltaDiscoveryResponse) => void = () => {};

  constructor(port: number) {
    this.#client = new AdsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
    });
    this.#stream = this.#client.openDelta(new grpc.Metadata());
    this.#stream.on("data", (r: DeltaDiscoveryResponse) => {
      this.received += r.resources.length;
      this.onData(r);
    });
    this.#stream.on("error", () => {});
    this.#stream.write(create(DeltaDiscoveryRequestSchema, { typeUrl: ADDRESS_TYPE_URL }));
  }

  close(): void {
    this.#stream.cancel();
    this.#client.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(0);
}
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

interface Row {
  case: string;
  ambit: number;
  baseline: number;
  unit: string;
}

async function pushLatency(clients: number, iterations: number): Promise<{ ambit: number[]; baseline: number[] }> {
  const seed = Array.from({ length: 100 }, (_, i) => address(i));
  // Ambit: window 0 so the measurement is the machinery, not the batching delay (default 5 ms).
  const source = new MemorySource();
  source.apply(ADDRESS_TYPE_URL, seed);
  const server = new XdsServer({ source, pushWindowMs: 0 });
  await server.start();
  const xs = Array.from(
    { length: clients },
    (_, i) =>
      new XdsClient({ address: `127.0.0.1:${server.port}`, typeUrls: [ADDRESS_TYPE_URL], node: { id: `n${i}` } }),
  );
  for (const c of xs) c.start();
  await until(() => xs.every((c) => c.synced));
  const ambit: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const entry = address(it % 100, it + 1);
    let pending = clients;
    const t0 = performance.now();
    const onUpdate = () => {
      ambit.push(performance.now() - t0);
      pending--;
    };
    for (const c of xs) c.once("update", onUpdate);
    source.set(ADDRESS_TYPE_URL, entry[0], entry[1].version, entry[1].resource);
    await until(() => pending === 0);
  }
  await Promise.all(xs.map((c) => c.stop()));
  await server.stop();

  const raw = new RawServer(() => seed);
  await raw.start();
  const rs = Array.from({ length: clients }, () => new RawClient(raw.port));
  await until(() => rs.every((c) => c.received === seed.length));
  const baseline: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const entry = address(it % 100, it + 1);
    let pending = clients;
    const t0 = performance.now();
    for (const c of rs)
      c.onData = () => {
        baseline.push(performance.now() - t0);
        pending--;
      };
    raw.broadcast(entry);
    await until(() => pending === 0);
  }
  for (const c of rs) c.close();
  raw.stop();
  return { ambit: ambit.sort((a, b) => a - b), baseline: baseline.sort((a, b) => a - b) };
}

async function initialSync(count: number, validate: boolean): Promise<{ ambit: number; baseline: number; mb: number }> {
  const entries = Array.from({ length: count }, (_, i) => address(i));
  const mb = entries.reduce((s, [n, r]) => s + n.length + r.resource.value.length, 0) / 1e6;
  const source = new MemorySource();
  source.apply(ADDRESS_TYPE_URL, entries);
  const server = new XdsServer({ source });
  await server.start();
  const t0 = performance.now();
  const client = new XdsClient({
    address: `127.0.0.1:${server.port}`,
    typeUrls: [ADDRESS_TYPE_URL],
    node: { id: "n" },
    ...(validate ? {} : { validate: () => {} }),
  });
  client.start();
  await until(() => client.resources(ADDRESS_TYPE_URL).size === count);
  const ambit = performance.now() - t0;
  await client.stop();
  await server.stop();

  const raw = new RawServer(() => entries);
  await raw.start();
  const t1 = performance.now();
  const rc = new RawClient(raw.port);
  await until(() => rc.received === count);
  const baseline = performance.now() - t1;
  rc.close();
  raw.stop();
  return { ambit, baseline, mb };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const [clients, iterations] of [
    [1, 300],
    [10, 100],
    [100, 30],
  ] as const) {
    const { ambit, baseline } = await pushLatency(clients, iterations);
    rows.push({
      case: `push p50, ${clients} client(s)`,
      ambit: pct(ambit, 50),
      baseline: pct(baseline, 50),
      unit: "ms",
    });
    rows.push({
      case: `push p99, ${clients} client(s)`,
      ambit: pct(ambit, 99),
      baseline: pct(baseline, 99),
      unit: "ms",
    });
  }
  const count = Number(process.env.XDS_BENCH_RESOURCES ?? 100_000);
  for (const validate of [true, false]) {
    const { ambit, baseline, mb } = await initialSync(count, validate);
    const label = `sync ${count / 1000}k Address (${mb.toFixed(1)} MB)${validate ? "" : ", no validation"}`;
    rows.push({ case: `${label} time`, ambit, baseline, unit: "ms" });
    rows.push({
      case: `${label} rate`,
      ambit: count / (ambit / 1000),
      baseline: count / (baseline / 1000),
      unit: "res/s",
    });
  }
  console.log("xDS benchmark (one process, loopback, shared 2-core machine: expect ±20% noise)");
  console.log("push: Ambit server with pushWindowMs=0 (the default 5 ms window adds up to 5 ms)\n");
  const w = Math.max(...rows.map((r) => r.case.length));
  console.log(`${"case".padEnd(w)}  ${"ambit".padStart(12)}  ${"baseline".padStart(12)}  ${"ratio".padStart(6)}`);
  for (const r of rows) {
    const fmt = (v: number) => `${v >= 100 ? v.toFixed(0) : v.toFixed(2)} ${r.unit}`;
    console.log(
      `${r.case.padEnd(w)}  ${fmt(r.ambit).padStart(12)}  ${fmt(r.baseline).padStart(12)}  ${(r.ambit / r.baseline).toFixed(2).padStart(6)}`,
    );
  }
  console.log("\nratio = ambit / baseline (latency and time: lower is better; rate: higher is better)");
}

await main();
