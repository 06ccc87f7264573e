// Pod name resolution from hosts files (issue 6: `svc`, `svc.ns`, `svc.ns.svc.cluster.local` resolve in
// every pod; short names only for the pod's own namespace, as its search path would).
import assert from "node:assert/strict";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { renderHosts, renderResolvConf, serviceHostnames, writeNetnsEtcFile } from "../../src/runtime/dns.js";
import { NETNS_ETC_DIR } from "../../src/runtime/netns-extra.js";

test("a Service in the pod's namespace also resolves by its bare name; others need the namespace", () => {
  const svc = { name: "reviews", namespace: "bookinfo", vip: "10.96.0.11" };
  assert.deepEqual(serviceHostnames(svc, "bookinfo"), [
    "reviews",
    "reviews.bookinfo",
    "reviews.bookinfo.svc",
    "reviews.bookinfo.svc.cluster.local",
  ]);
  assert.deepEqual(serviceHostnames(svc, "default", "corp.local"), [
    "reviews.bookinfo",
    "reviews.bookinfo.svc",
    "reviews.bookinfo.svc.corp.local",
  ]);
});

test("the hosts file lists localhost, the pod itself, Services sorted by name and ServiceEntry hosts", () => {
  const text = renderHosts({
    podName: "p",
    podNamespace: "a",
    podIP: "10.88.0.10",
    services: [
      { name: "z", namespace: "a", vip: "10.96.0.12" },
      { name: "y", namespace: "b", vip: "10.96.0.11" },
    ],
    aliases: [{ ip: "240.0.0.1", hostnames: ["api.example.com"] }],
  });
  assert.deepEqual(text.split("\n").slice(1), [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "10.88.0.10\tp",
    "10.96.0.12\tz z.a z.a.svc z.a.svc.cluster.local",
    "10.96.0.11\ty.b y.b.svc y.b.svc.cluster.local",
    "240.0.0.1\tapi.example.com",
    "",
  ]);
});

test("resolv.conf searches the pod's namespace first and names the given nameserver", () => {
  const text = renderResolvConf("bookinfo", "10.96.0.10");
  assert.match(text, /^search bookinfo\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
  assert.match(text, /^nameserver 10\.96\.0\.10$/m);
});

test("rewrites keep the file's inode (containers bind-mounted it) and never shrink it below a reader", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("writes under /etc/netns, which needs root");
    return;
  }
  const netns = `amrd${process.pid % 100000}-x`;
  const path = join(NETNS_ETC_DIR, netns, "hosts");
  try {
    await writeNetnsEtcFile(netns, "hosts", "10.0.0.1\tlong-name-one\n10.0.0.2\tlong-name-two\n");
    const first = await stat(path);
    await writeNetnsEtcFile(netns, "hosts", "10.0.0.3\tshort\n");
    const second = await stat(path);
    assert.equal(second.ino, first.ino);
    assert.equal(second.size, first.size);
    const text = await readFile(path, "utf8");
    assert.ok(text.startsWith("10.0.0.3\tshort\n#"), JSON.stringify(text));
    assert.equal(text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length, 1);
  } finally {
    await rm(join(NETNS_ETC_DIR, netns), { recursive: true, force: true });
  }
});
