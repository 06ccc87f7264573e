// A NETWORK (L4) plugin: upper-cases the client's bytes on their way to the server, and closes the connection
// when they contain a configured word: {"deny": "quit"} (optional).

import { BufferType, closeStream, Context, getBuffer, jsonString, registerRoot, RootContext, setBuffer, StreamType, Action } from "../sdk/index";

export * from "../sdk/exports";

class UppercaseRoot extends RootContext {
  deny: string = "";

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    const deny = jsonString(this.configuration, "deny");
    if (deny !== null) this.deny = deny;
    return true;
  }

  createContext(id: u32): Context {
    return new Uppercase(id, this);
  }
}

function upper(buf: ArrayBuffer): ArrayBuffer {
  const out = new ArrayBuffer(buf.byteLength);
  const s = changetype<usize>(buf);
  const d = changetype<usize>(out);
  for (let i = 0; i < buf.byteLength; i++) {
    const c = load<u8>(s + i);
    store<u8>(d + i, c >= 97 && c <= 122 ? c - 32 : c);
  }
  return out;
}

class Uppercase extends Context {
  onDownstreamData(size: usize, endOfStream: bool): Action {
    if (size == 0) return Action.Continue;
    const data = getBuffer(BufferType.DownstreamData, 0, size);
    if (data === null) return Action.Continue;
    const deny = (this.root as UppercaseRoot).deny;
    if (deny.length > 0 && String.UTF8.decode(data).includes(deny)) {
      closeStream(StreamType.Downstream);
      return Action.Continue;
    }
    setBuffer(BufferType.DownstreamData, 0, size, upper(data));
    return Action.Continue;
  }
}

registerRoot((id: u32): RootContext => new UppercaseRoot(id));
