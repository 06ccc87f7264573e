// `ambit up --ca-dir`: a mesh whose workload certificates come from a plug-in intermediate CA (Istio's cacerts
// layout). Pods get leaf + intermediate, ztunnels trust only the root, and traffic across nodes flows over HBONE.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MeshCa } from "../../src/identity/ca.js";
import { splitPemBundle } from "../../src/identity/x509.js";
import { pluginFiles, writePluginDir } from "../identity/plugin-files.js";
import { crossNodeFolder, type FolderMesh, startFolderMesh } from "./folder-mesh.js";
import { inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("c");

const FOLDER = crossNodeFolder("plug", "signed by the intermediate");

describe("ambit up --ca-dir: a plug-in intermediate CA", { skip: reason }, () => {
  let fm: FolderMesh;
  let caDir: string;
  let root: MeshCa;
  let intermediatePem: string;

  before(async () => {
    root = await MeshCa.generate({ authorizer: () => true });
    const files = await pluginFiles(root, "e2e");
    intermediatePem = files.caCert;
    caDir = mkdtempSync(join(tmpdir(), "ambit-cacerts-"));
    writePluginDir(caDir, files);
    fm = await startFolderMesh(FOLDER, PREFIX, 11, { caDir });
    await waitFor("capture", () => fm.pod("client").captured && fm.pod("server").captured);
  });

  after(async () => {
    await fm?.stop();
    rmSync(caDir, { recursive: true, force: true });
  });

  it("the control plane trusts the plug-in root and pods hold leaf + intermediate", async () => {
    assert.equal(fm.mesh.controlPlane.ca.rootPem, root.rootPem);
    const server = "spiffe://cluster.local/ns/plug/sa/server";
    const agent = fm.mesh.agents.get(fm.pod("server").node)!;
    const cert = await agent.certificates.get(server);
    const [leaf, mid, ...rest] = splitPemBundle(cert.certChainPem).map((p) => new X509Certificate(p));
    assert.equal(rest.length, 0, "the root is not presented, only trusted");
    assert.equal(leaf!.subjectAltName, `URI:${server}`);
    assert.equal(mid!.fingerprint256, new X509Certificate(intermediatePem).fingerprint256);
    assert.equal(cert.rootPem, root.rootPem);
  });

  it("a call across nodes goes through HBONE with the intermediate's certificates", async () => {
    assert.notEqual(fm.pod("client").node, fm.pod("server").node);
    let last = "";
    await waitFor("an answer", async () => {
      const r = await inPod(fm.pod("client").netns, ["curl", "-s", "-m", "5", "http://server/"]);
      last = `exit ${r.code}: ${r.stdout}`;
      return r.code === 0 && r.stdout === "signed by the intermediate";
    }).catch((e: Error) => assert.fail(`${e.message}; last ${last}`));
  });
});
