// Shared test fixtures: small Address resources, a wait helper, and a server+client pair that tests
// stop in `after` hooks so the process exits.
import { create } from "@bufbuild/protobuf";
import { type Address, AddressSchema } from "../../src/xds/gen/istio/workload/workload_pb.js";
import { addressResource } from "../../src/xds/resources.js";
import type { VersionedResource } from "../../src/xds/types.js";

export function workload(uid: string, ip: [number, number, number, number], extra: { node?: string } = {}): Address {
  return create(AddressSchema, {
    type: {
      case: "workload",
      value: {
        uid,
        name: uid.split("/").at(-1) ?? uid,
        namespace: "default",
        addresses: [new Uint8Array(ip)],
        ...extra,
      },
    },
  });
}

export function service(namespace: string, name: string): Address {
  return create(AddressSchema, {
    type: {
      case: "service",
      value: {
        name,
        namespace,
        hostname: `${name}.${namespace}.svc.cluster.local`,
        ports: [{ servicePort: 80, targetPort: 8080 }],
      },
    },
  });
}

export function workloads(count: number, prefix = "w"): [string, VersionedResource][] {
  const out: [string, VersionedResource][] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      addressResource(
        workload(`cluster1//v1/Pod/default/${prefix}${i}`, [10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
      ),
    );
  }
  return out;
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
