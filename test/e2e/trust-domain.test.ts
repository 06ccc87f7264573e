// `ambit up --trust-domain`: identities are spiffe://<td>/ns/<ns>/sa/<sa> everywhere (certificates, L4 policy
// principals), as MeshConfig trustDomain does in Istio (data-plane.md §1.2 "Identity format").
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isAmbitError } from "../../src/errors.js";
import { splitPemBundle } from "../../src/identity/x509.js";
import { LocalMesh } from "../../src/local/local-mesh.js";
import { crossNodeFolder, type FolderMesh, startFolderMesh } from "./folder-mesh.js";
import { inPod, prefixFor, skipReason, waitFor } from "./support.js";

const reason = await skipReason();
const PREFIX = prefixFor("t");
const TD = "example.org";

const FOLDER = crossNodeFolder("td", "ok");

const allowOnly = (principal: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: only-client
  namespace: td
spec:
  selector:
    matchLabels: {app: server}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["${principal}"]
`;

describe("ambit up --trust-domain", { skip: reason }, () => {
  let fm: FolderMesh;
  const curl = () => inPod(fm.pod("client").netns, ["curl", "-s", "-m", "5", "http://server/"]);

  before(async () => {
    fm = await startFolderMesh(FOLDER, PREFIX, 12, { trustDomain: TD });
    await waitFor("capture", () => fm.pod("client").captured && fm.pod("server").captured);
  });

  after(async () => {
    await fm?.stop();
  });

  it("workload certificates carry the trust domain", async () => {
    const id = `spiffe://${TD}/ns/td/sa/server`;
    const cert = await fm.mesh.agents.get(fm.pod("server").node)!.certificates.get(id);
    assert.equal(new X509Certificate(splitPemBundle(cert.certChainPem)[0]!).subjectAltName, `URI:${id}`);
  });

  it("principals match in the mesh's trust domain, not in cluster.local", async () => {
    await waitFor("an answer", async () => (await curl()).code === 0);
    const file = join(fm.dir, "policy.yaml");
    try {
      writeFileSync(file, allowOnly("cluster.local/ns/td/sa/client"));
      await waitFor("cluster.local principal does not match: reset (curl 56)", async () => (await curl()).code === 56);
      writeFileSync(file, allowOnly(`${TD}/ns/td/sa/client`));
      await waitFor("example.org principal matches", async () => (await curl()).code === 0);
    } finally {
      unlinkSync(file);
      await fm.mesh.settled();
    }
  });

  it("an invalid trust domain is refused before anything starts", async () => {
    await assert.rejects(
      LocalMesh.start({ folder: fm.dir, prefix: `${PREFIX}x`, trustDomain: "Not A Domain!" }),
      (e) => isAmbitError(e, "AMBIT_LOCAL_CONFIG") && e.message.includes("Not A Domain!"),
    );
  });
});
