// The proxy state's lookups and the outbound routing decision, with plain views (no sockets).
// Spec: data-plane.md §3.1 (outbound algorithm), §4.2 (resources), §5 (policy selection), policy.md §3.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ProxyState } from "../../src/dataplane/state/proxy-state.js";
import { serviceView, type WorkloadView, workloadView } from "../../src/dataplane/state/types.js";
import { formatAccessLog } from "../../src/dataplane/telemetry/access-log.js";
import { TRAFFIC_LABEL_NAMES, trafficLabels } from "../../src/dataplane/telemetry/labels.js";
import { type Picker, routeOutbound } from "../../src/dataplane/ztunnel/route.js";
import { staticStrictPolicy } from "../../src/policy/peer.js";
import type { L4Policy } from "../../src/policy/ztunnel-policy.js";

const SVC = "default/web.default.svc.cluster.local";
const first: Picker = (_k, list) => list[0]!;
const opts = { hbonePort: 15008 };

function mesh() {
  const state = new ProxyState();
  const client = workloadView({ uid: "c", name: "client", namespace: "default", addresses: ["10.0.0.1"] });
  const web1 = workloadView({
    uid: "w1",
    name: "web-1",
    namespace: "default",
    serviceAccount: "web",
    addresses: ["10.0.1.1"],
    services: { [SVC]: [{ servicePort: 80, targetPort: 8080 }] },
  });
  const web2 = { ...web1, uid: "w2", name: "web-2", addresses: ["10.0.1.2"] };
  const wp = workloadView({
    uid: "wp",
    name: "waypoint",
    namespace: "default",
    serviceAccount: "waypoint",
    addresses: ["10.0.9.1"],
    services: { "default/waypoint.default.svc.cluster.local": [{ servicePort: 15008, targetPort: 15008 }] },
  });
  state.update({
    workloads: { upsert: [client, web1, web2, wp] },
    services: {
      upsert: [
        serviceView({
          name: "web",
          namespace: "default",
          addresses: [{ network: "", address: "10.96.0.1" }],
          ports: [{ servicePort: 80, targetPort: 9999 }],
          subjectAltNames: ["spiffe://cluster.local/ns/default/sa/web-san"],
        }),
        serviceView({ name: "waypoint", namespace: "default", addresses: [{ network: "", address: "10.96.0.9" }] }),
      ],
    },
  });
  return { state, client, web1, web2, wp };
}

const WP_REF = {
  hostname: { namespace: "default", hostname: "waypoint.default.svc.cluster.local" },
  hboneMtlsPort: 15008,
};

describe("proxy state", () => {
  // §4.2: `Workload.services` defines membership; the index follows upserts and removals.
  it("endpoints of a service are the workloads whose services map names it", () => {
    const { state } = mesh();
    assert.deepEqual(
      state.endpoints(SVC).map((w) => w.uid),
      ["w1", "w2"],
    );
    state.update({ workloads: { remove: ["w1"] } });
    assert.deepEqual(
      state.endpoints(SVC).map((w) => w.uid),
      ["w2"],
    );
    assert.equal(state.workloadByIp("10.0.1.1"), undefined);
    assert.equal(state.workloadByIp("10.0.1.2")?.uid, "w2");
  });

  // §3.1 step 3: when several services share a VIP, the one in the client's namespace wins.
  it("a shared VIP resolves to the service in the client's namespace", () => {
    const state = new ProxyState();
    const vip = [{ network: "", address: "10.96.0.5" }];
    state.update({
      services: {
        upsert: [
          serviceView({ name: "a", namespace: "other", addresses: vip }),
          serviceView({ name: "a", namespace: "mine", addresses: vip }),
        ],
      },
    });
    assert.equal(state.serviceByVip("10.96.0.5", "", "mine")?.namespace, "mine");
    assert.equal(state.serviceByVip("10.96.0.5", "", "other")?.namespace, "other");
  });

  // §5 "Policy selection": GLOBAL + the workload's namespace + the selector policies it names.
  it("policies for a workload are GLOBAL, its namespace's, and those it names", () => {
    const { state, web1 } = mesh();
    const p = (name: string, namespace: string, scope: L4Policy["scope"]): L4Policy => ({
      name,
      namespace,
      scope,
      action: "ALLOW",
      groups: [],
      dryRun: false,
    });
    state.update({
      policies: {
        upsert: [
          p("g", "istio-system", "GLOBAL"),
          p("n", "default", "NAMESPACE"),
          p("other-ns", "other", "NAMESPACE"),
          p("sel", "default", "WORKLOAD_SELECTOR"),
          p("sel-unnamed", "default", "WORKLOAD_SELECTOR"),
        ],
      },
    });
    const w: WorkloadView = { ...web1, authorizationPolicies: ["default/sel", "default/missing"] };
    assert.deepEqual(
      state
        .policiesFor(w)
        .map((x) => x.name)
        .sort(),
      ["g", "n", "sel"],
    );
  });

  // policy.md §3: STRICT is the static DENY istiod attaches by name.
  it("PeerAuthentication mode is STRICT exactly when the static strict policy is attached", () => {
    const { state, web1 } = mesh();
    state.update({ policies: { upsert: [staticStrictPolicy("istio-system")] } });
    assert.equal(state.peerAuthentication(web1), "PERMISSIVE");
    const strict = { ...web1, authorizationPolicies: ["istio-system/istio_converted_static_strict"] };
    assert.equal(state.peerAuthentication(strict), "STRICT");
  });

  // §1.2: a waypoint's expected identities are its service SANs plus the waypoint workload's identity.
  it("a waypoint hostname resolves to its service's healthy endpoints", () => {
    const { state, wp } = mesh();
    assert.deepEqual(state.gatewayEndpoints(WP_REF), [
      {
        address: "10.0.9.1",
        port: 15008,
        identities: ["spiffe://cluster.local/ns/default/sa/waypoint"],
        workload: wp,
        service: state.service("default/waypoint.default.svc.cluster.local"),
      },
    ]);
    state.update({ workloads: { upsert: [{ ...wp, status: "UNHEALTHY" }] } });
    assert.deepEqual(state.gatewayEndpoints(WP_REF), []);
  });
});

describe("outbound routing (§3.1)", () => {
  it("a VIP is translated to an endpoint's own target port; expected SANs are service SANs + workload identity", () => {
    const { state, client } = mesh();
    const r = routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts);
    assert.deepEqual(r, {
      kind: "hbone",
      address: "10.0.1.1:15008",
      authority: "10.0.1.1:8080",
      expectedIdentities: ["spiffe://cluster.local/ns/default/sa/web-san", "spiffe://cluster.local/ns/default/sa/web"],
      destination: state.workload("w1"),
      service: state.service(SVC),
      viaWaypoint: false,
    });
  });

  it("a service with a waypoint goes to the waypoint with the VIP:port kept as :authority", () => {
    const { state, client } = mesh();
    state.update({ services: { upsert: [{ ...state.service(SVC)!, waypoint: WP_REF }] } });
    const r = routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts);
    assert.equal(r.kind, "hbone");
    assert.ok(r.kind === "hbone");
    assert.equal(r.address, "10.0.9.1:15008");
    assert.equal(r.authority, "10.96.0.1:80");
    assert.equal(r.viaWaypoint, true);
  });

  it("a service whose waypoint has no endpoint fails closed instead of bypassing it", () => {
    const { state, client } = mesh();
    state.update({
      services: {
        upsert: [{ ...state.service(SVC)!, waypoint: { ...WP_REF, hostname: { namespace: "x", hostname: "gone" } } }],
      },
    });
    const r = routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts);
    assert.equal(r.kind, "refuse");
  });

  it("a pod IP with a workload waypoint goes to the waypoint with the pod IP:port as :authority", () => {
    const { state, client, web1 } = mesh();
    state.update({ workloads: { upsert: [{ ...web1, waypoint: WP_REF }] } });
    const r = routeOutbound(state, client, { address: "10.0.1.1", port: 8080 }, first, opts);
    assert.ok(r.kind === "hbone");
    assert.equal(r.address, "10.0.9.1:15008");
    assert.equal(r.authority, "10.0.1.1:8080");
  });

  it("the waypoint itself reaches the workload directly (no loop)", () => {
    const { state, wp, web1 } = mesh();
    state.update({ workloads: { upsert: [{ ...web1, waypoint: WP_REF }] } });
    const r = routeOutbound(state, wp, { address: "10.0.1.1", port: 8080 }, first, opts);
    assert.ok(r.kind === "hbone");
    assert.equal(r.address, "10.0.1.1:15008");
    assert.equal(r.viaWaypoint, false);
  });

  it("a pod-IP call to a service member without a workload waypoint goes direct even if the service has one", () => {
    const { state, client } = mesh();
    state.update({ services: { upsert: [{ ...state.service(SVC)!, waypoint: WP_REF }] } });
    const r = routeOutbound(state, client, { address: "10.0.1.2", port: 8080 }, first, opts);
    assert.ok(r.kind === "hbone");
    assert.equal(r.address, "10.0.1.2:15008");
  });

  it("a destination outside the mesh (tunnel NONE) gets plain TCP after ztunnel's load balancing", () => {
    const { state, client, web1, web2 } = mesh();
    state.update({
      workloads: {
        upsert: [
          { ...web1, tunnelProtocol: "NONE" },
          { ...web2, tunnelProtocol: "NONE" },
        ],
      },
    });
    const r = routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts);
    assert.equal(r.kind, "tcp");
    assert.ok(r.kind === "tcp");
    assert.equal(`${r.host}:${r.port}`, "10.0.1.1:8080");
  });

  it("unhealthy endpoints are skipped; none left fails closed", () => {
    const { state, client, web1, web2 } = mesh();
    state.update({ workloads: { upsert: [{ ...web1, status: "UNHEALTHY" }] } });
    const r = routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts);
    assert.ok(r.kind === "hbone");
    assert.equal(r.address, "10.0.1.2:15008");
    state.update({ workloads: { upsert: [{ ...web2, status: "UNHEALTHY" }] } });
    assert.equal(routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts).kind, "refuse");
  });

  it("a port the service does not declare fails closed", () => {
    const { state, client } = mesh();
    assert.equal(routeOutbound(state, client, { address: "10.96.0.1", port: 81 }, first, opts).kind, "refuse");
  });

  it("PASSTHROUGH services and unknown IPs go to the original destination", () => {
    const { state, client } = mesh();
    assert.deepEqual(routeOutbound(state, client, { address: "1.2.3.4", port: 443 }, first, opts), {
      kind: "passthrough",
      host: "1.2.3.4",
      port: 443,
    });
    state.update({
      services: {
        upsert: [{ ...state.service(SVC)!, loadBalancing: { mode: "PASSTHROUGH", healthPolicy: "ONLY_HEALTHY" } }],
      },
    });
    assert.equal(routeOutbound(state, client, { address: "10.96.0.1", port: 80 }, first, opts).kind, "passthrough");
  });
});

describe("telemetry formats (§6)", () => {
  it("every standard label is present and missing values are 'unknown'", () => {
    const l = trafficLabels({
      reporter: "source",
      source: { workload: "a" },
      destination: {},
      protocol: "tcp",
      responseFlags: "-",
      security: "unknown",
    });
    assert.deepEqual(Object.keys(l).sort(), [...TRAFFIC_LABEL_NAMES].sort());
    assert.equal(l.source_workload, "a");
    assert.equal(l.destination_principal, "unknown");
    assert.equal(l.destination_service, "unknown");
  });

  it("an access-log line uses ztunnel's key=value fields and omits what is unknown", () => {
    const line = formatAccessLog({
      level: "error",
      message: "connection complete",
      src: { addr: "10.0.0.1:5555", workload: "curl", namespace: "default" },
      dst: { addr: "10.0.1.1:15008", hboneAddr: "10.0.1.1:8080", workload: "web", namespace: "default" },
      direction: "inbound",
      bytesSent: 0,
      bytesRecv: 0,
      durationMs: 1.4,
      error: "policy rejection: allow policies exist, but none allowed",
    });
    assert.equal(
      line,
      'error access connection complete src.addr=10.0.0.1:5555 src.workload="curl" src.namespace="default" ' +
        'dst.addr=10.0.1.1:15008 dst.hbone_addr=10.0.1.1:8080 dst.workload="web" dst.namespace="default" ' +
        'direction="inbound" bytes_sent=0 bytes_recv=0 duration="1ms" ' +
        'error="policy rejection: allow policies exist, but none allowed"',
    );
  });
});

describe("proxy state indexes (property)", () => {
  // §4.2: lookups must answer from the current resources only, whatever order the deltas came in.
  it("after any sequence of upserts and removals, IP and endpoint lookups match a fresh state built from the survivors", () => {
    const uids = ["a", "b", "c", "d"];
    const ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    const svcs = ["default/s1.default.svc.cluster.local", "default/s2.default.svc.cluster.local"];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("upsert" as const),
        uid: fc.constantFrom(...uids),
        ip: fc.constantFrom(...ips),
        svcs: fc.subarray(svcs),
      }),
      fc.record({ kind: fc.constant("remove" as const), uid: fc.constantFrom(...uids) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const state = new ProxyState();
        const live = new Map<string, WorkloadView>();
        for (const o of ops) {
          if (o.kind === "remove") {
            state.update({ workloads: { remove: [o.uid] } });
            live.delete(o.uid);
          } else {
            const w = workloadView({
              uid: o.uid,
              name: o.uid,
              namespace: "default",
              addresses: [o.ip],
              services: Object.fromEntries(o.svcs.map((s) => [s, [{ servicePort: 80, targetPort: 8080 }]])),
            });
            state.update({ workloads: { upsert: [w] } });
            live.set(o.uid, w);
          }
        }
        const fresh = new ProxyState();
        fresh.update({ workloads: { upsert: [...live.values()] } });
        for (const s of svcs) {
          assert.deepEqual(
            state.endpoints(s).map((w) => w.uid),
            fresh.endpoints(s).map((w) => w.uid),
          );
        }
        for (const ip of ips) {
          const got = state.workloadByIp(ip)?.uid;
          // Two live workloads may claim one IP; then either answer is the latest claimant's, as in a rebuild.
          if (got !== undefined) assert.equal(live.get(got)?.addresses[0], ip);
          else assert.ok(![...live.values()].some((w) => w.addresses.includes(ip)));
        }
      }),
    );
  });
});
