// The body callbacks, for plugins that override Context.onRequestBody / onResponseBody. Re-export it next to
// "./exports": `export * from "../sdk/body-exports";`. Left out, the host never calls them (and bodies stream
// past the plugin unchanged).

import { Action } from "./index";
import { contexts } from "./registry";

export function proxy_on_request_body(id: u32, size: usize, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onRequestBody(size, eos) : Action.Continue;
}

export function proxy_on_response_body(id: u32, size: usize, eos: bool): Action {
  return contexts.has(id) ? contexts.get(id).onResponseBody(size, eos) : Action.Continue;
}
