// Counts requests per URL path in a counter metric named `<prefix>;path=<path>`; the host exports the tag as a
// Prometheus label. Configuration: {"metric": "wasm_requests_total"} (optional).

import { Action, Context, defineMetric, getHeader, incrementMetric, jsonString, MapType, MetricType, registerRoot, RootContext } from "../sdk/index";

export * from "../sdk/exports";

class CountRoot extends RootContext {
  metric: string = "count_per_path_requests_total";
  ids: Map<string, u32> = new Map<string, u32>();

  onConfigure(size: usize): bool {
    super.onConfigure(size);
    const metric = jsonString(this.configuration, "metric");
    if (metric !== null) this.metric = metric;
    return true;
  }

  idFor(path: string): u32 {
    if (this.ids.has(path)) return this.ids.get(path);
    const id = defineMetric(MetricType.Counter, this.metric + ";path=" + path);
    this.ids.set(path, id);
    return id;
  }

  createContext(id: u32): Context {
    return new Count(id, this);
  }
}

class Count extends Context {
  onRequestHeaders(headers: u32, endOfStream: bool): Action {
    const full = getHeader(MapType.HttpRequestHeaders, ":path");
    if (full === null) return Action.Continue;
    const q = full.indexOf("?");
    const path = q < 0 ? full : full.substring(0, q);
    incrementMetric((this.root as CountRoot).idFor(path), 1);
    return Action.Continue;
  }
}

registerRoot((id: u32): RootContext => new CountRoot(id));
