// What the Bookinfo apps answer and forward (user-needs §6), as more than one test expects it.

// details v1's static book (any numeric id).
export const STATIC_DETAILS = {
  id: 0,
  author: "William Shakespeare",
  year: 1595,
  type: "paperback",
  pages: 200,
  publisher: "PublisherA",
  language: "English",
  "ISBN-10": "1234567890",
  "ISBN-13": "123-1234567890",
};

// The two reviews every reviews version returns.
export const TEXT1 = "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
export const TEXT2 =
  "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";

// Trace context and identity headers each hop forwards (with a per-test x-request-id in front).
export const PROPAGATED = {
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "congo=t61rcWkgMzE",
  "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
  "x-b3-spanid": "e457b5a2e4d86bd1",
  "x-b3-parentspanid": "05e3ac9a4f6e3b90",
  "x-b3-sampled": "1",
  "x-b3-flags": "0",
  b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
  "x-ot-span-context": "ot-span",
  "x-datadog-trace-id": "1",
  "x-datadog-parent-id": "2",
  "x-datadog-sampling-priority": "1",
  "x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1",
  "grpc-trace-bin": "AAAA",
  sw8: "1-sw8",
  "user-agent": "bookinfo-test/1.0",
  authorization: "Bearer token",
  jwt: "jwt-value",
};
