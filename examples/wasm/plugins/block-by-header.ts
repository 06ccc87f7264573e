// Answers 403 locally when a request header has a configured value: {"header": "x-block", "value": "yes"}.

import { Action, Context, getHeader, Header, jsonString, MapType, registerRoot, RootContext, sendLocalResponse } from "../sdk/index";

export * from "../sdk/exports";

class BlockRoot extends RootContext {
  header: string = "";
  value: string = "";

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    const header = jsonString(this.configuration, "header");
    const value = jsonString(this.configuration, "value");
    if (header === null || value === null) return false;
    this.header = header;
    this.value = value;
    return true;
  }

  createContext(id: u32): Context {
    return new Block(id, this);
  }
}

class Block extends Context {
  onRequestHeaders(headers: u32, endOfStream: bool): Action {
    const root = this.root as BlockRoot;
    const v = getHeader(MapType.HttpRequestHeaders, root.header);
    if (v === null || v != root.value) return Action.Continue;
    const h = [new Header("content-type", "text/plain"), new Header("x-blocked-by", "wasm")];
    sendLocalResponse(403, "blocked_by_wasm_plugin", "blocked by policy\n", h);
    return Action.Pause;
  }
}

registerRoot((id: u32): RootContext => new BlockRoot(id));
