// The pods a folder of manifests describes: Pods as written, and `replicas` pods per Deployment named the way
// a ReplicaSet names them (`<deployment>-<template hash>-<5 chars>`), deterministically so a rerun of the
// same manifests gets the same pod names.
import { createHash } from "node:crypto";
import type { Deployment, KubeObject, Pod } from "../api/resources.js";

// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alike characters).
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function suffix(seed: string, length: number): string {
  const digest = createHash("sha256").update(seed).digest();
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[(digest[i] as number) % ALPHABET.length];
  return out;
}

export function podsOfDeployment(deployment: Deployment): Pod[] {
  const spec = deployment.spec;
  if (!spec) return [];
  const namespace = deployment.metadata.namespace ?? "default";
  const replicas = spec.replicas ?? 1;
  const templateHash = suffix(JSON.stringify(spec.template), 10);
  const pods: Pod[] = [];
  for (let i = 0; i < replicas; i++) {
    const name = `${deployment.metadata.name}-${templateHash}-${suffix(`${namespace}/${deployment.metadata.name}/${i}`, 5)}`;
    pods.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        ...spec.template.metadata,
        name,
        namespace,
        labels: { ...spec.template.metadata?.labels, "pod-template-hash": templateHash },
      },
      spec: structuredClone(spec.template.spec),
    });
  }
  return pods;
}

/** Every pod to run for these objects, in manifest order. */
export function podsFromObjects(objects: readonly KubeObject[]): Pod[] {
  const pods: Pod[] = [];
  for (const object of objects) {
    if (object.kind === "Pod") pods.push(object as Pod);
    else if (object.kind === "Deployment") pods.push(...podsOfDeployment(object as Deployment));
  }
  return pods;
}
