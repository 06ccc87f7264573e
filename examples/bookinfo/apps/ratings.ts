// Bookinfo ratings (user-needs §6): the leaf service. `GET /ratings/<id>` answers two reviewers' stars;
// SERVICE_VERSION selects the fault-demo variants the Istio tasks and Kiali demos rely on.

import { readBody, sendJson, serve } from "./common.js";

type Ratings = { id: number; ratings: Record<string, unknown> };

const version = process.env.SERVICE_VERSION ?? "v1";
// POST /ratings/<id> replaces a product's ratings for the life of the process (the sample keeps them in memory).
const userRatings = new Map<number, Ratings>();
let unavailable = false;
let healthy = true;

if (version === "v2") {
  // The database-backed v2 needs MongoDB or MySQL; refusing to start beats silently serving v1 data.
  console.error("ratings: SERVICE_VERSION=v2 (database-backed) is not supported by this re-creation");
  process.exit(1);
}
if (version === "v-unavailable") {
  setInterval(() => {
    unavailable = !unavailable;
  }, 60_000).unref();
}
if (version === "v-unhealthy") {
  // 15-minute flaps: longer than Kubernetes' 10-minute back-off reset, so the pod is seen failing and recovering.
  setInterval(() => {
    healthy = !healthy;
    unavailable = !unavailable;
  }, 900_000).unref();
}

function ratingsFor(id: number): Ratings {
  return userRatings.get(id) ?? { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };
}

function productId(path: string): number {
  return Number.parseInt(path.slice("/ratings/".length), 10);
}

serve("ratings", async (req, res, path) => {
  if (path === "/health" && req.method === "GET") {
    if (healthy) sendJson(res, 200, { status: "Ratings is healthy" });
    else sendJson(res, 500, { status: "Ratings is not healthy" });
    return;
  }
  if (!path.startsWith("/ratings/")) {
    sendJson(res, 404, { error: "not found" });
    return;
  }
  const id = productId(path);
  if (Number.isNaN(id)) {
    sendJson(res, 400, { error: "please provide numeric product ID" });
    return;
  }
  if (req.method === "POST") {
    let ratings: unknown;
    try {
      ratings = JSON.parse(await readBody(req));
    } catch {
      sendJson(res, 400, { error: "please provide valid ratings JSON" });
      return;
    }
    if (typeof ratings !== "object" || ratings === null || Array.isArray(ratings)) {
      sendJson(res, 400, { error: "please provide valid ratings JSON" });
      return;
    }
    userRatings.set(id, { id, ratings: ratings as Record<string, unknown> });
    sendJson(res, 200, ratingsFor(id));
    return;
  }
  if (req.method !== "GET") {
    sendJson(res, 405, { error: "method not allowed" });
    return;
  }
  switch (version) {
    case "v-faulty":
      if (Math.random() <= 0.5) sendJson(res, 503, { error: "Service unavailable" });
      else sendJson(res, 200, ratingsFor(id));
      return;
    case "v-delayed":
      if (Math.random() <= 0.5) setTimeout(() => sendJson(res, 200, ratingsFor(id)), 7_000);
      else sendJson(res, 200, ratingsFor(id));
      return;
    case "v-unavailable":
    case "v-unhealthy":
      if (unavailable) sendJson(res, 503, { error: "Service unavailable" });
      else sendJson(res, 200, ratingsFor(id));
      return;
    default:
      sendJson(res, 200, ratingsFor(id));
  }
});
