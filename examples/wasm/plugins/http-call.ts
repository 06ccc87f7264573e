// Calls another upstream before letting a request through, then copies the answer into a request header.
// Configuration: {"upstream": "<cluster>", "authority": "tokens.local", "path": "/token", "header": "x-token"}.
// The request pauses until the call returns; a failed call gets a local 503.

import {
  Action, addHeader, BufferType, Context, continueStream, getBuffer, Header, httpCall, jsonString, MapType,
  registerRoot, RootContext, sendLocalResponse, str, StreamType,
} from "../sdk/index";

export * from "../sdk/exports";

class CallRoot extends RootContext {
  upstream: string = "";
  authority: string = "";
  path: string = "/";
  header: string = "x-call-result";

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    const upstream = jsonString(this.configuration, "upstream");
    if (upstream === null) return false;
    this.upstream = upstream;
    const authority = jsonString(this.configuration, "authority");
    this.authority = authority === null ? upstream : authority;
    const path = jsonString(this.configuration, "path");
    if (path !== null) this.path = path;
    const header = jsonString(this.configuration, "header");
    if (header !== null) this.header = header;
    return true;
  }

  createContext(id: u32): Context {
    return new Call(id, this);
  }
}

class Call extends Context {
  onRequestHeaders(headers: u32, endOfStream: bool): Action {
    const root = this.root as CallRoot;
    const h = [new Header(":method", "GET"), new Header(":path", root.path), new Header(":authority", root.authority)];
    const id = httpCall(root.upstream, h, "", [], 5000);
    if (id == 0) {
      sendLocalResponse(503, "wasm_http_call_refused", "upstream call refused\n", []);
      return Action.Pause;
    }
    return Action.Pause;
  }

  onHttpCallResponse(callId: u32, headers: u32, bodySize: usize, trailers: u32): void {
    if (headers == 0) {
      sendLocalResponse(503, "wasm_http_call_failed", "upstream call failed\n", []);
      return;
    }
    const body = getBuffer(BufferType.HttpCallResponseBody, 0, bodySize);
    addHeader(MapType.HttpRequestHeaders, (this.root as CallRoot).header, body === null ? "" : str(body).trim());
    continueStream(StreamType.HttpRequest);
  }
}

registerRoot((id: u32): RootContext => new CallRoot(id));
