// Which per-request callbacks a plugin module exports, read from its export section. The host skips a callback
// the module does not export (it would "continue"), so the filter can skip the work around it too: a plugin
// without body callbacks leaves bodies streaming as they are, with their content-length.

export interface PluginCallbacks {
  requestBody: boolean;
  responseBody: boolean;
}

const EXPORT_SECTION = 7;

/** Reads the export names of a Wasm binary; an unreadable module reports every callback (the safe answer). */
export function pluginCallbacks(bytes: Uint8Array): PluginCallbacks {
  const names = exportNames(bytes);
  if (names === undefined) return { requestBody: true, responseBody: true };
  return { requestBody: names.has("proxy_on_request_body"), responseBody: names.has("proxy_on_response_body") };
}

function exportNames(bytes: Uint8Array): Set<string> | undefined {
  let pos = 8;
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined) throw new RangeError("unexpected end of module");
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError("LEB128 too long");
  };
  try {
    while (pos < bytes.length) {
      const id = bytes[pos++];
      const size = u32();
      if (id !== EXPORT_SECTION) {
        pos += size;
        continue;
      }
      const names = new Set<string>();
      for (let n = u32(); n > 0; n--) {
        const len = u32();
        names.add(Buffer.from(bytes.buffer, bytes.byteOffset + pos, len).toString("utf8"));
        pos += len;
        pos++; // export kind
        u32(); // index
      }
      return names;
    }
    return new Set();
  } catch {
    return undefined;
  }
}
