// The WASI functions proxy-wasm SDKs import (ABI v0.2.1 "WASI" and "unimplemented WASI" sections). Output goes
// to the plugin log, the environment is the plugin's vmEnv only (never the proxy's own environment).

import { randomFillSync } from "node:crypto";
import { WasiClock, WasiErrno } from "./abi.js";
import type { PluginRuntime } from "./runtime.js";
import { ProcExit } from "./runtime.js";

const MAX_RANDOM = 65536;

export function wasiFunctions(rt: PluginRuntime) {
  const environ = () => Object.entries(rt.vmEnv).map(([k, v]) => Buffer.from(`${k}=${v}\0`, "utf8"));
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, writtenPtr: number): number {
      if (fd !== 1 && fd !== 2) return WasiErrno.BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = rt.mem.getU32(iovs + i * 8);
        const len = rt.mem.getU32(iovs + i * 8 + 4);
        parts.push(rt.mem.copy(ptr, len));
        total += len;
      }
      rt.mem.setU32(writtenPtr, total);
      const text = Buffer.concat(parts).toString("utf8").replace(/\n$/, "");
      if (text.length > 0) rt.log(fd === 1 ? "info" : "error", text);
      return WasiErrno.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, retPtr: number): number {
      if (id === WasiClock.REALTIME) rt.mem.setU64(retPtr, rt.clock.nowNanos());
      else if (id === WasiClock.MONOTONIC) rt.mem.setU64(retPtr, rt.clock.monotonicNanos());
      else return WasiErrno.NOTSUP;
      return WasiErrno.SUCCESS;
    },
    random_get(ptr: number, len: number): number {
      if (len > MAX_RANDOM) return WasiErrno.INVAL;
      randomFillSync(rt.mem.view8(ptr, len));
      return WasiErrno.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      const vars = environ();
      rt.mem.setU32(countPtr, vars.length);
      rt.mem.setU32(
        sizePtr,
        vars.reduce((n, b) => n + b.length, 0),
      );
      return WasiErrno.SUCCESS;
    },
    environ_get(arrayPtr: number, bufPtr: number): number {
      let at = bufPtr;
      environ().forEach((b, i) => {
        rt.mem.setU32(arrayPtr + i * 4, at);
        rt.mem.write(at, b);
        at += b.length;
      });
      return WasiErrno.SUCCESS;
    },
    args_sizes_get(countPtr: number, sizePtr: number): number {
      rt.mem.setU32(countPtr, 0);
      rt.mem.setU32(sizePtr, 0);
      return WasiErrno.SUCCESS;
    },
    args_get(_argv: number, _buf: number): number {
      return WasiErrno.SUCCESS;
    },
    proc_exit(code: number): never {
      throw new ProcExit(code);
    },
    fd_close(_fd: number): number {
      return WasiErrno.SUCCESS;
    },
    fd_seek(_fd: number, _offset: bigint, _whence: number, _retPtr: number): number {
      return WasiErrno.BADF;
    },
    fd_fdstat_get(fd: number, retPtr: number): number {
      if (fd > 2) return WasiErrno.BADF;
      // fdstat: filetype u8 (2 = character device), flags u16, rights base u64, rights inheriting u64.
      rt.mem.write(retPtr, new Uint8Array(24));
      rt.mem.write(retPtr, Uint8Array.of(2));
      return WasiErrno.SUCCESS;
    },
    sched_yield(): number {
      return WasiErrno.SUCCESS;
    },
  };
}
