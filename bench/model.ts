// bench:model — build time, memory and incremental-update latency of the mesh model on synthetic clusters,
// side by side with a full recompute of the same model (the naive baseline). Not a test: prints a table.
//   npm run bench:model                 (1k, 10k, 100k pods)
//   npm run bench:model -- --sizes 1000 (one size)
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import type { KubeObject } from "../src/api/resources.js";
import { MeshModel } from "../src/mesh/model.js";

interface Result {
  pods: number;
  objects: number;
  buildMs: number;
  rssMiB: number;
  podLabel: Stats;
  namespaceLabel: Stats;
  policy: Stats;
  fullRecomputeMs: Stats;
}

interface Stats {
  p50: number;
  p99: number;
  n: number;
}

const PODS_PER_SERVICE = 10;
const NAMESPACES_PER_100K = 10;

function synthetic(pods: number): { objects: KubeObject[]; namespaces: string[] } {
  const nsCount = Math.max(1, Math.round((pods / 100_000) * NAMESPACES_PER_100K));
  const namespaces = Array.from({ length: nsCount }, (_, i) => `ns-${i}`);
  const objects: KubeObject[] = [];
  for (const ns of namespaces) {
    objects.push({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { "istio.io/dataplane-mode": "ambient" } },
    });
    objects.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "waypoint", namespace: ns },
      spec: { gatewayClassName: "istio-waypoint", listeners: [{ name: "mesh", port: 15008, protocol: "HBONE" }] },
    } as KubeObject);
  }
  const services = Math.ceil(pods / PODS_PER_SERVICE);
  for (let s = 0; s < services; s++) {
    const ns = namespaces[s % nsCount] as string;
    const labels: Record<string, string> = s % 5 === 0 ? { "istio.io/use-waypoint": "waypoint" } : {};
    objects.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `svc-${s}`, namespace: ns, labels },
      spec: { selector: { app: `svc-${s}` }, ports: [{ port: 80 }] },
    } as KubeObject);
  }
  for (let p = 0; p < pods; p++) {
    const s = Math.floor(p / PODS_PER_SERVICE);
    const ns = namespaces[s % nsCount] as string;
    objects.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `pod-${p}`, namespace: ns, labels: { app: `svc-${s}`, version: "v1" } },
      spec: { containers: [{ name: "app" }], serviceAccountName: `sa-${s}` },
      status: { podIP: `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}` },
    } as KubeObject);
  }
  for (let i = 0; i < 2000; i++) {
    const s = (i * 7) % services;
    const ns = namespaces[s % nsCount] as string;
    const spec =
      i % 3 === 0
        ? {
            targetRefs: [{ group: "", kind: "Service", name: `svc-${s}` }],
            rules: [{ to: [{ operation: { methods: ["GET"] } }] }],
          }
        : i % 3 === 1
          ? {
              selector: { matchLabels: { app: `svc-${s}` } },
              rules: [{ from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/sa-${s}`] } }] }],
            }
          : { action: "DENY", rules: [{ from: [{ source: { namespaces: [`other-${i}`] } }] }] };
    objects.push({
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: `pol-${i}`, namespace: ns },
      spec,
    } as KubeObject);
  }
  return { objects, namespaces };
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), n: samples.length };
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function measure(pods: number): Result {
  const { objects, namespaces } = synthetic(pods);
  let model!: MeshModel;
  const buildMs = time(() => {
    model = MeshModel.build(objects);
  });
  const rssMiB = process.memoryUsage().rss / 2 ** 20;

  const podEvents: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const p = (i * 7919) % pods;
    const original = objects.find((o) => o.kind === "Pod" && o.metadata.name === `pod-${p}`);
    if (!original) continue;
    const labels = { ...original.metadata.labels, ...(i % 2 === 0 ? { "istio.io/use-waypoint": "none" } : {}) };
    const changed = { ...original, metadata: { ...original.metadata, labels } };
    podEvents.push(time(() => model.apply({ type: "upsert", object: changed })));
  }

  const nsEvents: number[] = [];
  const nsSamples = pods >= 100_000 ? 200 : 1000;
  for (let i = 0; i < nsSamples; i++) {
    const ns = namespaces[i % namespaces.length] as string;
    const labels: Record<string, string> = {
      "istio.io/dataplane-mode": "ambient",
      ...(i % 2 === 0 ? { "istio.io/use-waypoint": "waypoint" } : {}),
    };
    nsEvents.push(
      time(() =>
        model.apply({
          type: "upsert",
          object: { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels } },
        }),
      ),
    );
  }

  const policyEvents: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const ns = namespaces[i % namespaces.length] as string;
    const spec = {
      targetRefs: [{ group: "", kind: "Service", name: `svc-${(i * 13) % Math.ceil(pods / PODS_PER_SERVICE)}` }],
      rules: [{ to: [{ operation: { paths: [`/p${i}`] } }] }],
    };
    policyEvents.push(
      time(() =>
        model.apply({
          type: "upsert",
          object: {
            apiVersion: "security.istio.io/v1",
            kind: "AuthorizationPolicy",
            metadata: { name: "bench-edit", namespace: ns },
            spec,
          } as KubeObject,
        }),
      ),
    );
  }

  const full: number[] = [];
  const fullSamples = pods >= 100_000 ? 3 : pods >= 10_000 ? 10 : 30;
  for (let i = 0; i < fullSamples; i++) full.push(time(() => MeshModel.build(objects)));

  return {
    pods,
    objects: objects.length,
    buildMs,
    rssMiB,
    podLabel: stats(podEvents),
    namespaceLabel: stats(nsEvents),
    policy: stats(policyEvents),
    fullRecomputeMs: stats(full),
  };
}

const args = process.argv.slice(2);
const sizeArg = args.indexOf("--size");
if (sizeArg >= 0) {
  process.stdout.write(`${JSON.stringify(measure(Number(args[sizeArg + 1])))}\n`);
} else {
  const sizesArg = args.indexOf("--sizes");
  const sizes =
    sizesArg >= 0
      ? String(args[sizesArg + 1])
          .split(",")
          .map(Number)
      : [1_000, 10_000, 100_000];
  const f = (n: number) => (n < 1 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(0));
  console.log(
    "bench:model: each size in its own process (RSS is that process's); latencies in ms; ratio = full recompute p50 / incremental p50",
  );
  console.log(
    "pods     objects  build ms  RSS MiB  pod-label p50/p99   ratio   ns-label p50/p99    ratio   policy p50/p99      ratio   full recompute p50",
  );
  for (const size of sizes) {
    const child = spawnSync(process.execPath, ["--import", "tsx", import.meta.filename, "--size", String(size)], {
      encoding: "utf8",
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) {
      console.error(child.stderr);
      process.exit(1);
    }
    const r = JSON.parse(child.stdout) as Result;
    const ratio = (s: Stats) => `${f(r.fullRecomputeMs.p50 / s.p50)}x`;
    console.log(
      [
        String(r.pods).padEnd(8),
        String(r.objects).padEnd(8),
        f(r.buildMs).padEnd(9),
        f(r.rssMiB).padEnd(8),
        `${f(r.podLabel.p50)}/${f(r.podLabel.p99)}`.padEnd(19),
        ratio(r.podLabel).padEnd(7),
        `${f(r.namespaceLabel.p50)}/${f(r.namespaceLabel.p99)}`.padEnd(19),
        ratio(r.namespaceLabel).padEnd(7),
        `${f(r.policy.p50)}/${f(r.policy.p99)}`.padEnd(19),
        ratio(r.policy).padEnd(7),
        f(r.fullRecomputeMs.p50),
      ].join(" "),
    );
  }
}
