// Adds a response header taken from the plugin configuration: {"name": "x-wasm", "value": "hello"}.

import { Action, addHeader, Context, jsonString, MapType, registerRoot, RootContext } from "../sdk/index";

export * from "../sdk/exports";

class AddHeaderRoot extends RootContext {
  name: string = "x-wasm-plugin";
  value: string = "added";

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    const name = jsonString(this.configuration, "name");
    const value = jsonString(this.configuration, "value");
    if (name !== null) this.name = name;
    if (value !== null) this.value = value;
    return this.name.length > 0;
  }

  createContext(id: u32): Context {
    return new AddHeader(id, this);
  }
}

class AddHeader extends Context {
  onResponseHeaders(headers: u32, endOfStream: bool): Action {
    const root = this.root as AddHeaderRoot;
    addHeader(MapType.HttpResponseHeaders, root.name, root.value);
    return Action.Continue;
  }
}

registerRoot((id: u32): RootContext => new AddHeaderRoot(id));
