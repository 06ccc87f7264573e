// The local runtime end to end (issue 6): pods as netns with their own IP running their command, env and
// readiness; hosts-file DNS; Service VIPs with kube-proxy rules for uncaptured pods; restart with back-off;
// teardown that leaves nothing behind. Root only.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Deployment, Pod, Service, ServiceEntry } from "../../src/api/resources.js";
import { run } from "../../src/dataplane/capture/exec.js";
import { isAmbitError } from "../../src/errors.js";
import { LocalCluster, type RunningPod } from "../../src/runtime/cluster.js";
import { cidrContains, parseCidr } from "../../src/runtime/ipam.js";
import { readServiceRules, SERVICES_CHAIN } from "../../src/runtime/services.js";
import { leftovers } from "../../src/runtime/topology.js";
import { podsOfDeployment } from "../../src/runtime/workloads.js";
import { inPod, runtimeSkipReason, testCidrs, testPrefix, until } from "./support.js";

const skip = await runtimeSkipReason();
const prefix = testPrefix("c");
const cidrs = testCidrs(0);
const ECHO = join(import.meta.dirname, "fixtures", "echo.mjs");

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    }).on("error", reject);
  });
}

const web: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop" },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web", version: "v1" } },
      spec: {
        serviceAccountName: "web-sa",
        containers: [
          {
            name: "echo",
            command: [process.execPath, ECHO],
            args: ["--port", "$(PORT)"],
            ports: [{ name: "http", containerPort: 8080 }],
            env: [
              { name: "PORT", value: "8080" },
              { name: "ECHO_VARS", value: "POD_NAME,POD_NS,POD_IP,SA,NODE,APP,GREETING,HOSTNAME" },
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
              { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              { name: "GREETING", value: "hello from $(POD_NAME)" },
            ],
            readinessProbe: { httpGet: { path: "/health", port: "http" } },
          },
        ],
      },
    },
  },
};

const webService: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "shop" },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
};

const external: ServiceEntry = {
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name: "ext", namespace: "shop" },
  spec: { hosts: ["api.example.test"], addresses: ["240.0.0.7"], ports: [{ number: 443, name: "tls" }] },
};

function pod(name: string, namespace: string, command: string[] | undefined): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: name } },
    spec: { containers: [{ name: "main", image: "example/image:1", ...(command ? { command } : {}) }] },
  };
}

describe("local cluster", { skip, timeout: 60_000 }, () => {
  const cluster = new LocalCluster();
  let logDir = "";
  let webPods: RunningPod[] = [];
  let client: RunningPod;
  let other: RunningPod;
  let vip = "";

  before(async () => {
    logDir = await mkdtemp(join(tmpdir(), "ambit-runtime-"));
    await cluster.start({
      prefix,
      nodes: 2,
      ...cidrs,
      workDir: import.meta.dirname,
      logDir,
      backoff: { initialMs: 200, maxMs: 400 },
      gracePeriodMs: 2000,
    });
    const vips = await cluster.setServices([webService], [external]);
    vip = vips.get("shop/web") ?? "";
    webPods = await Promise.all(podsOfDeployment(web).map((p) => cluster.addPod(p)));
    client = await cluster.addPod(pod("client", "shop", ["sleep", "600"]));
    other = await cluster.addPod(pod("other", "elsewhere", ["sleep", "600"]));
    await Promise.all(webPods.map((p) => p.ready));
  });

  after(async () => {
    await cluster.stop();
    // Teardown leaves no netns, link, route or /etc/netns folder, and never touched the host's iptables.
    assert.deepEqual(await leftovers(prefix), []);
    const save = (await run("iptables-save", [])).stdout;
    assert.ok(!save.includes(SERVICES_CHAIN), "root netns has no service chain");
    await rm(logDir, { recursive: true, force: true });
  });

  test("pods get distinct IPs in the pod CIDR and are spread round-robin over the nodes", () => {
    const pods = [...webPods, client, other];
    const cidr = parseCidr(cidrs.podCidr);
    for (const p of pods) assert.ok(cidrContains(cidr, p.ip), `${p.ip} in ${cidrs.podCidr}`);
    assert.equal(new Set(pods.map((p) => p.ip)).size, pods.length);
    assert.deepEqual(
      pods.map((p) => p.node),
      ["node-1", "node-2", "node-1", "node-2"],
    );
    assert.ok(cidrContains(parseCidr(cidrs.serviceCidr), vip), `VIP ${vip} in ${cidrs.serviceCidr}`);
  });

  test("a pod reaches another pod's IP", async () => {
    const body = await inPod(client.netns, "curl", "-sS", "-m", "3", `http://${webPods[0]!.ip}:8080/`);
    assert.equal(JSON.parse(body).hostname, webPods[0]!.name);
  });

  test("the host reaches a pod: readiness probes from the root netns made both replicas ready", async () => {
    assert.ok(webPods.every((p) => p.isReady));
    const { status, body } = await httpGet(`http://${webPods[1]!.ip}:8080/health`);
    assert.equal(status, 200);
    assert.equal(body, "ok");
  });

  test("a container gets its env: value, $(VAR) expansion, fieldRefs and HOSTNAME = pod name", async () => {
    const p = webPods[0]!;
    const { body } = await httpGet(`http://${p.ip}:8080/`);
    const echoed = JSON.parse(body);
    assert.deepEqual(echoed.env, {
      POD_NAME: p.name,
      POD_NS: "shop",
      POD_IP: p.ip,
      SA: "web-sa",
      NODE: p.node,
      APP: "web",
      GREETING: `hello from ${p.name}`,
      HOSTNAME: p.name,
    });
    // command + args, with $(PORT) expanded in args.
    assert.deepEqual(echoed.argv, ["--port", "8080"]);
  });

  test("Service names resolve inside a pod from its hosts file (short name only in its own namespace)", async () => {
    const lookup = async (netns: string, name: string) =>
      (await run("ip", ["netns", "exec", netns, "getent", "hosts", name], { allowFailure: true })).stdout.split(
        /\s+/,
      )[0];
    assert.equal(await lookup(client.netns, "web.shop"), vip);
    assert.equal(await lookup(client.netns, "web"), vip);
    assert.equal(await lookup(client.netns, "web.shop.svc.cluster.local"), vip);
    assert.equal(await lookup(other.netns, "web.shop"), vip);
    assert.equal(await lookup(other.netns, "web"), "");
    assert.equal(await lookup(client.netns, "api.example.test"), "240.0.0.7");
    assert.equal(await lookup(client.netns, "client"), client.ip);
    const resolv = await inPod(client.netns, "cat", "/etc/resolv.conf");
    assert.match(resolv, /^search shop\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    assert.match(resolv, new RegExp(`^nameserver ${cluster.dnsAddress.replaceAll(".", "\\.")}$`, "m"));
  });

  test("a Service added later resolves inside containers that are already running", async () => {
    const pid = client.status().containers[0]!.pid;
    assert.ok(pid !== undefined);
    const late: Service = { ...webService, metadata: { name: "late", namespace: "shop" } };
    const vips = await cluster.setServices([webService, late], [external]);
    assert.equal(vips.get("shop/web"), vip, "existing VIPs are stable");
    // nsenter joins the container's own mount namespace, where the hosts file was bind-mounted at start.
    const out = (await run("nsenter", ["-t", String(pid), "-m", "-n", "getent", "hosts", "late.shop"])).stdout;
    assert.equal(out.split(/\s+/)[0], vips.get("shop/late"));
    await cluster.setServices([webService], [external]);
  });

  test("an uncaptured pod reaches the Service VIP by name and connections spread over both endpoints", async () => {
    const urls = Array.from({ length: 24 }, () => "http://web.shop/");
    const out = await inPod(client.netns, "curl", "-sS", "-m", "5", "-H", "Connection: close", "-w", "\n", ...urls);
    const hosts = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).hostname as string);
    assert.equal(hosts.length, 24);
    // Each endpoint has probability 1/2 per connection; missing one in 24 tries has odds 2^-23.
    assert.deepEqual(new Set(hosts), new Set(webPods.map((p) => p.name)));
  });

  test("the host reaches the Service VIP through the cluster netns", async () => {
    const { body } = await httpGet(`http://${vip}/`);
    assert.ok(webPods.some((p) => p.name === JSON.parse(body).hostname));
  });

  test("a captured pod gets no kube-proxy rules (ztunnel must see the VIP); uncapturing restores them", async () => {
    assert.equal((await readServiceRules(client.netns)).length, 2);
    await cluster.setCaptured("shop", "client", true);
    const save = await inPod(client.netns, "iptables-save", "-t", "nat");
    assert.ok(!save.includes(SERVICES_CHAIN), save);
    await cluster.setCaptured("shop", "client", false);
    const rules = await readServiceRules(client.netns);
    assert.equal(rules.length, 2);
    assert.match(
      rules[0]!,
      new RegExp(`^-d ${vip}/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0\\.5`),
    );
    assert.match(rules[1]!, /-j DNAT --to-destination [\d.]+:8080$/);
  });

  test("a crashing container restarts with exponential back-off, capped, and its output is in its log", async () => {
    const delays: number[] = [];
    const onBackoff = (p: RunningPod, container: string, delay: number) => {
      if (p.name === "crasher" && container === "main") delays.push(delay);
    };
    cluster.on("containerBackoff", onBackoff);
    const crasher = await cluster.addPod(
      pod("crasher", "shop", [process.execPath, "-e", "console.log('boom'); process.exit(3)"]),
    );
    await until("three restarts", () => (delays.length >= 3 ? true : undefined));
    // initial 200 ms, doubled, capped at 400 ms (the test's back-off; the default is 1 s doubling to 10 s).
    assert.deepEqual(delays.slice(0, 3), [200, 400, 400]);
    const status = crasher.status();
    assert.ok(status.containers[0]!.restartCount >= 2);
    assert.equal(status.containers[0]!.lastExit?.code, 3);
    assert.ok(["CrashLoopBackOff", "Running"].includes(status.containers[0]!.phase));
    const log = await cluster.logs("shop", "crasher");
    assert.ok(log.split("\n").filter((l) => l === "boom").length >= 2, log);
    cluster.off("containerBackoff", onBackoff);
    await cluster.removePod("shop", "crasher");
  });

  test("a pod without command reports ImageEntrypointUnsupported and keeps its network", async () => {
    const p = await cluster.addPod(pod("imageonly", "shop", undefined));
    assert.equal(p.status().phase, "ImageEntrypointUnsupported");
    assert.match(p.status().message ?? "", /example\/image:1/);
    await assert.rejects(p.ready, (e) => isAmbitError(e, "AMBIT_RUNTIME_ENTRYPOINT_UNSUPPORTED"));
    const addr = await inPod(p.netns, "ip", "-4", "-o", "addr", "show", "eth0");
    assert.match(addr, new RegExp(`inet ${p.ip.replaceAll(".", "\\.")}/16`));
  });

  test("following a log yields what the container wrote and ends on abort", async () => {
    const controller = new AbortController();
    const lines: string[] = [];
    for await (const chunk of cluster.followLogs("shop", webPods[0]!.name, { signal: controller.signal, pollMs: 50 })) {
      lines.push(chunk);
      controller.abort();
    }
    assert.match(lines.join(""), /^listening on 8080$/m);
  });

  test("removing an endpoint pod deletes its netns and drops it from every pod's Service rules", async () => {
    const gone = webPods[1]!;
    await cluster.removePod("shop", gone.name);
    assert.equal(cluster.pod("shop", gone.name), undefined);
    const netns = await run("ip", ["netns", "list"]);
    assert.ok(!netns.stdout.includes(gone.netns));
    await until("rules without the removed pod", async () => {
      const rules = await readServiceRules(client.netns);
      return rules.length === 1 && rules[0]!.endsWith(`${webPods[0]!.ip}:8080`) ? true : undefined;
    });
  });
});
