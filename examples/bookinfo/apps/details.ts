// Bookinfo details (user-needs §6): `GET /details/<id>` answers the book's bibliographic details.
// With ENABLE_EXTERNAL_BOOK_SERVICE=true (details v2) it asks the Google Books API instead: the egress demo.

import http from "node:http";
import https from "node:https";
import { pickHeaders, sendJson, serve, TRACE_HEADERS } from "./common.js";

type Details = Record<string, unknown>;

// The ISBN of a Comedy of Errors edition with Shakespeare as its only author, as in the sample.
const ISBN = "0486424618";
const EXTERNAL_TIMEOUT_MS = 5_000;

function staticDetails(id: number): Details {
  return {
    id,
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  };
}

// DO_NOT_ENCRYPT=true sends plain HTTP to port 80 so a mesh egress gateway can originate TLS.
// EXTERNAL_BOOK_SERVICE_URL is ours, to point the call at a local stand-in.
function externalUrl(): string {
  const base =
    process.env.EXTERNAL_BOOK_SERVICE_URL ??
    (process.env.DO_NOT_ENCRYPT === "true" ? "http://www.googleapis.com:80" : "https://www.googleapis.com");
  return `${base.replace(/\/$/, "")}/books/v1/volumes?q=isbn:${ISBN}`;
}

function fetchExternal(url: string, headers: Record<string, string>): Promise<unknown> {
  const client = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch {
          reject(new Error(`book service answered ${res.statusCode} without JSON`));
        }
      });
    });
    const timer = setTimeout(() => req.destroy(new Error("book service timed out")), EXTERNAL_TIMEOUT_MS);
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
  });
}

type VolumeInfo = {
  authors?: string[];
  publishedDate?: string;
  printType?: string;
  pageCount?: number;
  publisher?: string;
  language?: string;
  industryIdentifiers?: { type: string; identifier: string }[];
};

function isbnOf(book: VolumeInfo, type: string): string | undefined {
  return book.industryIdentifiers?.find((i) => i.type === type)?.identifier;
}

async function externalDetails(id: number, headers: Record<string, string>): Promise<Details> {
  const json = (await fetchExternal(externalUrl(), headers)) as { items?: { volumeInfo?: VolumeInfo }[] };
  const book = json.items?.[0]?.volumeInfo;
  if (!book) throw new Error("book service returned no volume");
  return {
    id,
    author: book.authors?.[0],
    year: book.publishedDate,
    type: book.printType === "BOOK" ? "paperback" : "unknown",
    pages: book.pageCount,
    publisher: book.publisher,
    language: book.language === "en" ? "English" : "unknown",
    "ISBN-10": isbnOf(book, "ISBN_10"),
    "ISBN-13": isbnOf(book, "ISBN_13"),
  };
}

serve("details", async (req, res, path) => {
  if (path === "/health") {
    sendJson(res, 200, { status: "Details is healthy" });
    return;
  }
  if (!path.startsWith("/details")) {
    sendJson(res, 404, { error: "not found" });
    return;
  }
  const last = path.split("/").pop() ?? "";
  if (!/^[+-]?\d+$/.test(last)) {
    sendJson(res, 400, { error: "please provide numeric product id" });
    return;
  }
  const id = Number.parseInt(last, 10);
  if (process.env.ENABLE_EXTERNAL_BOOK_SERVICE !== "true") {
    sendJson(res, 200, staticDetails(id));
    return;
  }
  try {
    // Only trace context leaves the mesh: the caller's cookies and credentials are not Google's business.
    sendJson(res, 200, await externalDetails(id, pickHeaders(req, TRACE_HEADERS)));
  } catch (e) {
    // The sample turns any failure of the external call into a 400 carrying the reason.
    sendJson(res, 400, { error: e instanceof Error ? e.message : String(e) });
  }
});
