// Host functions of the proxy-wasm ABI (v0.2.1) as AssemblyScript declarations.

@external("env", "proxy_log")
export declare function proxy_log(level: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(retLevel: usize): u32;
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(retTime: usize): u32;
@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(ms: u32): u32;
@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(id: u32): u32;
@external("env", "proxy_done")
export declare function proxy_done(): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(pathPtr: usize, pathLen: usize, retPtr: usize, retLen: usize): u32;
@external("env", "proxy_set_property")
export declare function proxy_set_property(pathPtr: usize, pathLen: usize, valPtr: usize, valLen: usize): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(type: u32, start: usize, max: usize, retPtr: usize, retLen: usize): u32;
@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(type: u32, start: usize, size: usize, ptr: usize, len: usize): u32;
@external("env", "proxy_get_buffer_status")
export declare function proxy_get_buffer_status(type: u32, retSize: usize, retFlags: usize): u32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(type: u32, retPtr: usize, retLen: usize): u32;
@external("env", "proxy_set_header_map_pairs")
export declare function proxy_set_header_map_pairs(type: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_get_header_map_size")
export declare function proxy_get_header_map_size(type: u32, retSize: usize): u32;
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(type: u32, kPtr: usize, kLen: usize, retPtr: usize, retLen: usize): u32;
@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(type: u32, kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): u32;
@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(type: u32, kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): u32;
@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(type: u32, kPtr: usize, kLen: usize): u32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  status: u32, detailsPtr: usize, detailsLen: usize, bodyPtr: usize, bodyLen: usize,
  headersPtr: usize, headersLen: usize, grpcStatus: i32): u32;
@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(type: u32): u32;
@external("env", "proxy_close_stream")
export declare function proxy_close_stream(type: u32): u32;
@external("env", "proxy_get_status")
export declare function proxy_get_status(retCode: usize, retMsgPtr: usize, retMsgLen: usize): u32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upPtr: usize, upLen: usize, hPtr: usize, hLen: usize, bPtr: usize, bLen: usize,
  tPtr: usize, tLen: usize, timeoutMs: u32, retCallId: usize): u32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(type: u32, namePtr: usize, nameLen: usize, retId: usize): u32;
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(id: u32, delta: i64): u32;
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(id: u32, value: u64): u32;
@external("env", "proxy_get_metric")
export declare function proxy_get_metric(id: u32, retValue: usize): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(kPtr: usize, kLen: usize, retPtr: usize, retLen: usize, retCas: usize): u32;
@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(kPtr: usize, kLen: usize, vPtr: usize, vLen: usize, cas: u32): u32;
@external("env", "proxy_register_shared_queue")
export declare function proxy_register_shared_queue(namePtr: usize, nameLen: usize, retId: usize): u32;
@external("env", "proxy_resolve_shared_queue")
export declare function proxy_resolve_shared_queue(vmPtr: usize, vmLen: usize, namePtr: usize, nameLen: usize, retId: usize): u32;
@external("env", "proxy_enqueue_shared_queue")
export declare function proxy_enqueue_shared_queue(id: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_dequeue_shared_queue")
export declare function proxy_dequeue_shared_queue(id: u32, retPtr: usize, retLen: usize): u32;
