// Bookinfo reviews (user-needs §6): one program, three versions chosen by environment, as in the sample's pods:
// v1 ENABLE_RATINGS=false (no stars, never calls ratings), v2 STAR_COLOR=black, v3 STAR_COLOR=red.

import os from "node:os";
import { getJson, PROPAGATED_HEADERS, pickHeaders, sendJson, serve, serviceBase } from "./common.js";

type Rating = { stars: number; color: string } | { error: string };
type Review = { reviewer: string; text: string; rating?: Rating };

const ratingsEnabled = process.env.ENABLE_RATINGS === "true";
const starColor = process.env.STAR_COLOR ?? "black";
// The pod name lets a page (and the getting-started loop's `grep reviews-v.-`) tell which version answered.
const podName = process.env.HOSTNAME ?? os.hostname();
// The original prints Java's null for an unset cluster name; the page hides "null".
const clusterName = process.env.CLUSTER_NAME ?? "null";
const ratingsBase = serviceBase("ratings");
// The sample's client timeouts: generous for black stars, tight for red ones, which the timeout and
// fault-injection tasks expose (a 7 s ratings delay breaks v3 but not v2).
const ratingsTimeoutMs = starColor === "black" ? 10_000 : 2_500;

const REVIEWS = [
  {
    reviewer: "Reviewer1",
    text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
  },
  {
    reviewer: "Reviewer2",
    text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
  },
] as const;

// Stars per reviewer, or undefined when ratings could not be had (the review then carries the error text).
async function fetchStars(productId: number, headers: Record<string, string>): Promise<Map<string, number>> {
  const r = await getJson(`${ratingsBase}/ratings/${productId}`, headers, ratingsTimeoutMs);
  const stars = new Map<string, number>();
  if (r.status !== 200) {
    console.error(`reviews: unable to contact ${ratingsBase}: ${r.error ?? `status ${r.status}`}`);
    return stars;
  }
  const ratings = (r.body as { ratings?: Record<string, unknown> } | null)?.ratings ?? {};
  for (const [who, n] of Object.entries(ratings)) if (typeof n === "number") stars.set(who, n);
  return stars;
}

serve("reviews", async (req, res, path) => {
  if (path === "/health") {
    sendJson(res, 200, { status: "Reviews is healthy" });
    return;
  }
  const m = /^\/reviews\/(-?\d+)$/.exec(path);
  if (!m?.[1]) {
    sendJson(res, 404, { error: "not found" });
    return;
  }
  const productId = Number.parseInt(m[1], 10);
  // Reviews forwards everything productpage forwarded, plus the `end-user` productpage derived from the session.
  const headers = pickHeaders(req, [...PROPAGATED_HEADERS, "end-user"]);
  const stars = ratingsEnabled ? await fetchStars(productId, headers) : undefined;
  const reviews: Review[] = REVIEWS.map(({ reviewer, text }) => {
    if (!stars) return { reviewer, text };
    const n = stars.get(reviewer);
    const rating: Rating =
      n === undefined ? { error: "Ratings service is currently unavailable" } : { stars: n, color: starColor };
    return { reviewer, text, rating };
  });
  sendJson(res, 200, { id: String(productId), podname: podName, clustername: clusterName, reviews });
});
