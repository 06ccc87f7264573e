// Socket options Node has no API for, applied to fds that Node owns or will adopt.
#ifndef AMBIT_SOCKOPTS_H
#define AMBIT_SOCKOPTS_H

#include <node_api.h>

// Helpers for a socket of the given domain (AF_INET/AF_INET6); return -1 with errno set on failure.
int ambit_set_transparent(int fd, int domain);
int ambit_set_freebind(int fd, int domain);

napi_value ambit_original_dst(napi_env env, napi_callback_info info);  // originalDst(fd) -> {address, port, family}
napi_value ambit_set_mark(napi_env env, napi_callback_info info);      // setMark(fd, mark)
napi_value ambit_set_transparent_js(napi_env env, napi_callback_info info);  // setTransparent(fd)
napi_value ambit_bind(napi_env env, napi_callback_info info);          // bind(fd, address, port)

#endif
