// Istio's default text access-log format (EnvoyTextLogFormat in meshConfig), one line per request; fields
// Envoy would not know print "-".

import { formatAuthority } from "../hbone/headers.js";
import { flagsText, type RequestContext } from "./context.js";
import { first } from "./headers.js";

const dash = (v: string | number | undefined) => (v === undefined || v === "" ? "-" : String(v));

export function accessLogLine(ctx: RequestContext, durationMs: number, upstreamMs: number | undefined): string {
  const h = ctx.downstream.req.headers as Record<string, string | string[] | undefined>;
  const t = ctx.tunnel;
  return (
    `[${new Date(ctx.startedAt).toISOString()}] "${ctx.method} ${ctx.path} ${ctx.downstream.version}" ` +
    `${ctx.responseCode} ${flagsText(ctx.flags)} ${dash(ctx.details)} - "-" ` +
    `${ctx.requestBytes} ${ctx.responseBytes} ${Math.round(durationMs)} ${dash(upstreamMs === undefined ? undefined : Math.round(upstreamMs))} ` +
    `"${dash(first(h, "x-forwarded-for"))}" "${dash(first(h, "user-agent"))}" "${dash(first(ctx.headers, "x-request-id"))}" ` +
    `"${dash(ctx.authority)}" "${dash(ctx.endpoint ? `${ctx.endpoint.address}` : undefined)}" ${dash(ctx.cluster)} - ` +
    `${formatAuthority(t.target)} ${t.remoteAddress}:${t.remotePort} - ${dash(ctx.routeName)}`
  );
}
