// Test plugin for ABI 0.2.0: no SDK, the 0.2.0 marker, and `proxy_continue_request` (the 0.2.0 name) to resume
// a request it paused, from a tick, through `wasi_unstable` imports as older SDKs use them.

// The SDK is linked only for its abort handler (the build passes --use abort=...).
import "../sdk/index";

@external("env", "proxy_continue_request")
declare function proxy_continue_request(): u32;
@external("env", "proxy_set_effective_context")
declare function proxy_set_effective_context(id: u32): u32;
@external("env", "proxy_set_tick_period_milliseconds")
declare function proxy_set_tick_period_milliseconds(ms: u32): u32;
@external("wasi_unstable", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, written: usize): u32;

const IOV: usize = memory.data(16);
let paused: u32 = 0;

export function proxy_abi_version_0_2_0(): void {}

export function malloc(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(id: u32, parent: u32): void {}

export function proxy_on_request_headers(id: u32, headers: u32, eos: bool): u32 {
  paused = id;
  proxy_set_tick_period_milliseconds(5);
  return 1;
}

export function proxy_on_tick(root: u32): void {
  if (paused == 0) return;
  const msg = String.UTF8.encode("resuming\n");
  store<usize>(IOV, changetype<usize>(msg));
  store<usize>(IOV + 4, msg.byteLength);
  fd_write(1, IOV, 1, IOV + 8);
  proxy_set_effective_context(paused);
  paused = 0;
  proxy_set_tick_period_milliseconds(0);
  proxy_continue_request();
}
