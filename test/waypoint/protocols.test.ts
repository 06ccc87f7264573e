import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { classify } from "../../src/dataplane/waypoint/detect.js";
import { ap, config, GATEWAY_REF, h2request, type Mesh, service, startMesh } from "./harness.js";

const H2 = "10.96.0.10:9081";
const TCP = "10.96.0.10:9000";

function readAll(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    s.on("data", (d: Buffer) => {
      out += d.toString();
    });
    s.once("end", () => resolve(out));
    s.once("error", reject);
  });
}

// data-plane.md §3.5: the waypoint's main_internal listener inspects each tunnel (http_inspector): HTTP/1.1,
// HTTP/2 (gRPC included) or TCP.
describe("protocol detection", () => {
  it("classifies the h2 preface, an HTTP/1.1 request line and anything else", () => {
    assert.equal(classify(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "h2c");
    assert.equal(classify(Buffer.from("PRI * HTTP/2.0")), "more");
    assert.equal(classify(Buffer.from("GET /x HTTP/1.1\r\nhost: a\r\n\r\n")), "http1");
    assert.equal(classify(Buffer.from("POS")), "more");
    assert.equal(classify(Buffer.from("\x16\x03\x01\x02\x00")), "tcp");
    assert.equal(classify(Buffer.from("hello world\n")), "tcp");
  });
});

describe("waypoint protocols", () => {
  let mesh: Mesh;

  before(async () => {
    mesh = await startMesh(["reviews-v1"], { detectTimeoutMs: 200 });
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", mesh.pods)], {
        authorizationPolicies: [
          ap("allow", {
            ...GATEWAY_REF,
            rules: [
              { to: [{ operation: { paths: ["/ok", "/pkg.Svc/Allowed"] } }] },
              // An HTTP-only rule with a port: dropped on TCP streams (policy.md §1.8).
              { to: [{ operation: { ports: ["9000"], methods: ["GET"] } }] },
            ],
          }),
        ],
      }),
    );
  });

  after(() => mesh.close());

  it("h2c (prior knowledge) is proxied as HTTP/2 and policy applies", async () => {
    const s = await mesh.h2(H2);
    const ok = await h2request(s, { ":path": "/ok", ":method": "GET" });
    assert.equal(ok.headers[":status"], 200);
    assert.equal(ok.body.toString(), "h2 reviews-v1 /ok");
    const denied = await h2request(s, { ":path": "/nope", ":method": "GET" });
    assert.equal(denied.headers[":status"], 403);
    assert.equal(denied.body.toString(), "RBAC: access denied");
  });

  it("gRPC is HTTP/2 with application/grpc: trailers pass through, a denial is grpc-status 7", async () => {
    const s = await mesh.h2(H2);
    const msg = Buffer.from([0, 0, 0, 0, 0]);
    const ok = await h2request(
      s,
      { ":path": "/pkg.Svc/Allowed", ":method": "POST", "content-type": "application/grpc", te: "trailers" },
      msg,
    );
    assert.equal(ok.headers[":status"], 200);
    assert.equal(ok.trailers["grpc-status"], "0");
    assert.deepEqual([...ok.body], [0, 0, 0, 0, 2, 0x08, 0x01]);
    const denied = await h2request(
      s,
      { ":path": "/pkg.Svc/Denied", ":method": "POST", "content-type": "application/grpc", te: "trailers" },
      msg,
    );
    assert.equal(denied.headers[":status"], 200);
    assert.equal(denied.headers["grpc-status"], "7");
    assert.equal(denied.headers["grpc-message"], "RBAC: access denied");
    const text = await mesh.waypoint.metrics.render();
    assert.match(text, /istio_requests_total\{[^}]*request_protocol="grpc"[^}]*grpc_response_status="7"/);
    assert.match(text, /istio_requests_total\{[^}]*request_protocol="grpc"[^}]*grpc_response_status="0"/);
  });

  it("TCP on a tcp port: bytes pass with half-close; an ALLOW rule needing HTTP fields is dropped (§1.8)", async () => {
    // Only the allow rule with ports+methods could match port 9000, and it is dropped on TCP → denied.
    const denied = await mesh.tunnel(TCP);
    denied.end("hello");
    assert.equal(await readAll(denied), "");
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", mesh.pods)], {
        authorizationPolicies: [ap("allow", { ...GATEWAY_REF, rules: [{ to: [{ operation: { ports: ["9000"] } }] }] })],
      }),
    );
    const t = await mesh.tunnel(TCP);
    t.write("hello ");
    t.end("tcp");
    assert.equal(await readAll(t), "hello tcp");
    const text = await mesh.waypoint.metrics.render();
    assert.match(text, /istio_tcp_connections_opened_total\{[^}]*request_protocol="tcp"[^}]*response_flags="DENY"/);
    assert.match(text, /istio_tcp_received_bytes_total\{[^}]*destination_workload="reviews-v1"[^}]*\} 9/);
  });

  it("an undeclared port with a non-HTTP first byte stream is TCP", async () => {
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", mesh.pods, { ports: [{ port: 9000, targetPort: 9000 }] })]),
    );
    const t = await mesh.tunnel(TCP);
    t.end("\x00\x01binary");
    assert.equal(await readAll(t), "\x00\x01binary");
  });

  it("a tunnel to an address the waypoint does not serve is refused", async () => {
    await assert.rejects(mesh.tunnel("10.1.2.3:80"), { code: "AMBIT_HBONE_BAD_REQUEST" });
    const t = await mesh.tunnel(TCP);
    t.end();
    await once(t, "close");
  });
});

describe("grpc-message encoding (gRPC PROTOCOL-HTTP2)", () => {
  it("only '%' and bytes outside 0x20-0x7E are percent-encoded, as UTF-8", async () => {
    const { grpcPercentEncode } = await import("../../src/dataplane/waypoint/local-reply.js");
    assert.equal(grpcPercentEncode("RBAC: access denied"), "RBAC: access denied");
    assert.equal(grpcPercentEncode("100% sure\n"), "100%25 sure%0A");
    assert.equal(grpcPercentEncode("café"), "caf%C3%A9");
  });
});
