// Does nothing: every callback continues. The benchmark's baseline for the cost of crossing into Wasm.

export * from "../sdk/exports";
