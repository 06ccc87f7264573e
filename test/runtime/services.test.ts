// Endpoints and kube-proxy rules for Services (issue 6: DNAT VIP:port to podIP:targetPort with random
// balancing; Kubernetes' endpoints rules: same namespace, selector, ready unless publishNotReadyAddresses).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Service } from "../../src/api/resources.js";
import { parseCidr } from "../../src/runtime/ipam.js";
import {
  type PodEndpointInfo,
  renderServiceRules,
  selectEndpoints,
  serviceRuleSpecs,
  targetPortOf,
  VipAllocator,
} from "../../src/runtime/services.js";

const svc = (name: string, spec: Service["spec"], namespace = "shop"): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace },
  spec,
});
const endpoint = (ip: string, extra: Partial<PodEndpointInfo> = {}): PodEndpointInfo => ({
  namespace: "shop",
  labels: { app: "web" },
  ip,
  ready: true,
  namedPorts: { http: 8080 },
  ...extra,
});

test("VIPs are stable per Service, honour spec.clusterIP inside the CIDR, and skip headless Services", () => {
  const vips = new VipAllocator(parseCidr("10.96.0.0/16"));
  assert.equal(vips.dnsAddress, "10.96.0.10");
  const a = vips.assign(svc("a", {}));
  assert.equal(a, "10.96.0.11");
  assert.equal(vips.assign(svc("a", {})), a);
  assert.equal(vips.assign(svc("b", { clusterIP: "10.96.7.7" })), "10.96.7.7");
  assert.equal(vips.assign(svc("c", { clusterIP: "172.20.0.1" })), "10.96.0.12", "outside the CIDR: allocated");
  assert.equal(vips.assign(svc("h", { clusterIP: "None" })), undefined);
  vips.release("shop/a");
  assert.equal(vips.assign(svc("d", {})), "10.96.0.11");
});

test("endpoints: same namespace, selector match, ready pods only unless publishNotReadyAddresses", () => {
  const pods = [
    endpoint("10.88.0.10"),
    endpoint("10.88.0.11", { ready: false }),
    endpoint("10.88.0.12", { namespace: "other" }),
    endpoint("10.88.0.13", { labels: { app: "db" } }),
  ];
  assert.deepEqual(
    selectEndpoints(svc("web", { selector: { app: "web" } }), pods).map((p) => p.ip),
    ["10.88.0.10"],
  );
  const publish = svc("web", { selector: { app: "web" } });
  (publish.spec as { publishNotReadyAddresses?: boolean }).publishNotReadyAddresses = true;
  assert.deepEqual(
    selectEndpoints(publish, pods).map((p) => p.ip),
    ["10.88.0.10", "10.88.0.11"],
  );
  assert.deepEqual(selectEndpoints(svc("manual", {}), pods), [], "no selector, no endpoints");
});

test("targetPort: a number, a numeric string, a container port name, or the port itself", () => {
  const e = endpoint("10.88.0.10");
  assert.equal(targetPortOf({ port: 80, targetPort: 9090 }, e), 9090);
  assert.equal(targetPortOf({ port: 80, targetPort: "9091" }, e), 9091);
  assert.equal(targetPortOf({ port: 80, targetPort: "http" }, e), 8080);
  assert.equal(targetPortOf({ port: 80, targetPort: "grpc" }, e), undefined);
  assert.equal(targetPortOf({ port: 80 }, e), 80);
});

test("n endpoints get probabilities 1/n, 1/(n-1) ... and the last rule catches the rest", () => {
  const specs = serviceRuleSpecs([
    {
      key: "shop/web",
      vip: "10.96.0.11",
      ports: [
        { port: 80, targetPort: "http" },
        { port: 53, protocol: "UDP" },
        { port: 99, protocol: "SCTP" },
      ],
      endpoints: [endpoint("10.88.0.10"), endpoint("10.88.0.11"), endpoint("10.88.0.12")],
    },
  ]);
  assert.deepEqual(specs, [
    "-d 10.96.0.11/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 10.88.0.10:8080",
    "-d 10.96.0.11/32 -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.88.0.11:8080",
    "-d 10.96.0.11/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.88.0.12:8080",
    "-d 10.96.0.11/32 -p udp -m udp --dport 53 -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 10.88.0.10:53",
    "-d 10.96.0.11/32 -p udp -m udp --dport 53 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.88.0.11:53",
    "-d 10.96.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.88.0.12:53",
  ]);
});

test("the restore payload declares (and so empties) the chain, and adds the jump only when asked", () => {
  assert.equal(renderServiceRules([]), "*nat\n:AMBIT-SERVICES - [0:0]\nCOMMIT\n");
  assert.match(renderServiceRules([], "OUTPUT"), /^-A OUTPUT -j AMBIT-SERVICES$/m);
});
