// NETWORK (L4) WasmPlugins in the waypoint's TCP path (policy.md §5 `type: NETWORK`). For a connection they cover
// (same rules as HTTP: Service targeting, `match` ports), each plugin gets a proxy-wasm stream context on its
// slot's current VM, in phase/priority order: on_new_connection at accept (close → the client is reset), the
// client's bytes through on_downstream_data in order before they go upstream, the server's bytes through
// on_upstream_data in reverse order (Envoy runs write filters backwards) before they reach the client, then the
// close callbacks of both sides. `pause` holds a direction's bytes in the host until the plugin continues. A
// context stays on the VM it started on, so a hot update never moves a connection between VMs.

import type { Duplex } from "node:stream";
import type { TunnelInfo } from "../../hbone/server.js";
import { SPLICE_BUFFER_BYTES, splice } from "../../hbone/splice.js";
import type { PropertyBag, StreamAction, StreamContext } from "../../wasm/index.js";
import type { Destination } from "../state.js";
import { resetTunnel, type TcpExtension, type TcpSession } from "../tcp.js";
import type { LoadedVersion, PluginSlot } from "./slot.js";
import { covers, type WasmPluginSpec } from "./spec.js";

export interface NetworkPlugin {
  spec: WasmPluginSpec;
  slot: PluginSlot;
}

const EMPTY = new Uint8Array(0);

function attributes(tunnel: TunnelInfo): PropertyBag {
  return {
    "source.address": tunnel.remoteAddress,
    "source.port": tunnel.remotePort,
    "destination.address": tunnel.target.host,
    "destination.port": tunnel.target.port,
    "connection.mtls": true,
    "source.principal": tunnel.peer,
    "connection.uri_san_peer_certificate": tunnel.peer,
  };
}

/** The NETWORK plugins of one config, already ordered by phase and priority. */
export class NetworkPlugins implements TcpExtension {
  constructor(private readonly plugins: readonly NetworkPlugin[]) {}

  open(tunnel: TunnelInfo, dest: Destination): TcpSession | undefined {
    const covering = this.plugins.filter((p) => covers(p.spec, dest));
    return covering.length === 0 ? undefined : new NetworkSession(covering, attributes(tunnel));
  }
}

interface Running {
  ctx: StreamContext;
  version: LoadedVersion;
}

/** Where a direction's bytes go once every plugin has passed them. */
interface Sink {
  write(chunk: Uint8Array): void;
  end(): void;
}

/** One plugin's hook on one direction: feeds it the bytes, forwards what it lets through. */
class Stage implements Sink {
  #eos = false;
  #endSent = false;

  constructor(
    private readonly call: (chunk: Uint8Array, eos: boolean) => StreamAction,
    private readonly take: () => Uint8Array,
    private readonly resumed: () => Promise<StreamAction>,
    private readonly next: Sink,
    private readonly session: NetworkSession,
  ) {}

  write(chunk: Uint8Array): void {
    if (!this.session.closing) this.#act(this.call(chunk, false));
  }

  end(): void {
    if (this.session.closing) return;
    this.#eos = true;
    this.#act(this.call(EMPTY, true));
  }

  #act(action: StreamAction): void {
    if (action === "continue") this.#flush();
    else if (action === "close") this.session.close();
    // Paused: the host holds the bytes (later chunks are appended) until the plugin continues the stream.
    else
      this.resumed().then((a) => {
        if (!this.session.closing) this.#act(a);
      });
  }

  #flush(): void {
    const out = this.take();
    if (out.length > 0) this.next.write(out);
    if (this.#eos && !this.#endSent) {
      this.#endSent = true;
      this.next.end();
    }
  }
}

/** Writes into a socket, pausing the source while the socket's buffer is full (as splice does). */
function socketSink(from: Duplex, to: Duplex): Sink {
  return {
    write(chunk) {
      if (to.destroyed) return;
      to.write(chunk);
      if (to.writableLength >= SPLICE_BUFFER_BYTES && !from.isPaused()) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    },
    end() {
      if (!to.destroyed) to.end();
    },
  };
}

class NetworkSession implements TcpSession {
  readonly #running: Running[] = [];
  #client: Duplex | undefined;
  #upstream: Duplex | undefined;
  #closing = false;
  #finished = false;

  constructor(
    private readonly plugins: readonly NetworkPlugin[],
    private readonly attrs: PropertyBag,
  ) {}

  get closing(): boolean {
    return this.#closing;
  }

  async start(client: Duplex): Promise<boolean> {
    this.#client = client;
    for (const p of this.plugins) {
      const ok = this.#open(p);
      if (!ok) return this.#refuse();
    }
    for (const { ctx } of this.#running) {
      let action = ctx.onNewConnection();
      if (action === "pause") action = await Promise.race([ctx.resumed, closed(client)]);
      if (action === "close" || client.destroyed) return this.#refuse();
    }
    return true;
  }

  /** Starts a context on the plugin's current VM; false when its failStrategy closes the connection. */
  #open(p: NetworkPlugin): boolean {
    const state = p.slot.state;
    if (state === undefined || state.kind === "failed") return state?.failStrategy === "FAIL_OPEN";
    const version = state.version;
    // A connection of an older config reaching a plugin that has since left the config.
    if (version.closed) return true;
    version.acquire();
    try {
      this.#running.push({ ctx: version.plugin.newStreamContext(this.attrs), version });
      return true;
    } catch {
      version.release();
      return version.plugin.failStrategy === "FAIL_OPEN";
    }
  }

  #refuse(): false {
    this.#closing = true;
    for (const { ctx } of this.#running) ctx.onDownstreamClose("local");
    this.#finish();
    return false;
  }

  splice(client: Duplex, upstream: Duplex): Promise<void> {
    this.#upstream = upstream;
    // Every covering plugin was skipped (FAIL_OPEN, or left the config): nothing to run.
    if (this.#running.length === 0) {
      const done = splice(client, upstream);
      if (client.readableEnded) upstream.end();
      return done;
    }
    let down: Sink = socketSink(client, upstream);
    for (const { ctx } of [...this.#running].reverse()) {
      down = new Stage(
        (c, e) => ctx.onDownstreamData(c, e),
        () => ctx.takeDownstreamData(),
        () => ctx.resumed,
        down,
        this,
      );
    }
    let up: Sink = socketSink(upstream, client);
    for (const { ctx } of this.#running) {
      up = new Stage(
        (c, e) => ctx.onUpstreamData(c, e),
        () => ctx.takeUpstreamData(),
        () => ctx.resumed,
        up,
        this,
      );
    }
    const done = new Promise<void>((resolve) => {
      let open = 2;
      const onClose = (side: Duplex, other: Duplex, notify: (ctx: StreamContext, peer: "local" | "remote") => void) =>
        side.once("close", () => {
          // A side closed without finishing its reads is an abort: cut the other side too.
          if (!side.readableEnded && !other.destroyed) other.destroy();
          const peer = this.#closing ? "local" : "remote";
          for (const { ctx } of this.#running) notify(ctx, peer);
          if (--open === 0) {
            this.#finish();
            resolve();
          }
        });
      onClose(client, upstream, (ctx, peer) => ctx.onDownstreamClose(peer));
      onClose(upstream, client, (ctx, peer) => ctx.onUpstreamClose(peer));
    });
    client.on("error", (e: Error) => upstream.destroyed || upstream.destroy(e));
    upstream.on("error", (e: Error) => client.destroyed || client.destroy(e));
    client.on("data", (c: Buffer) => down.write(c));
    client.once("end", () => down.end());
    upstream.on("data", (c: Buffer) => up.write(c));
    upstream.once("end", () => up.end());
    // Detection may already have read the client's EOF (an empty stream).
    if (client.readableEnded) down.end();
    return done;
  }

  abort(): void {
    this.#closing = true;
    for (const { ctx } of this.#running) {
      ctx.onUpstreamClose("unknown");
      ctx.onDownstreamClose("local");
    }
    this.#finish();
  }

  /** A plugin closed the connection (or its VM failed under FAIL_CLOSE): reset the client, cut upstream. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#client) resetTunnel(this.#client);
    this.#upstream?.destroy();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const { ctx, version } of this.#running) ctx.finish().finally(() => version.release());
  }
}

function closed(stream: Duplex): Promise<StreamAction> {
  return new Promise((r) => stream.once("close", () => r("close")));
}
