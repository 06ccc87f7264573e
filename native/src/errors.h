// Turning failed system calls into JS exceptions that look like Node's own (code "EPERM", errno, syscall).
#ifndef AMBIT_ERRORS_H
#define AMBIT_ERRORS_H

#include <node_api.h>

// Throws an Error with code = errno name (e.g. "EADDRINUSE"), errno = -err (Node's sign) and syscall.
void ambit_throw_errno(napi_env env, int err, const char *syscall);

// Throws a TypeError with code ERR_INVALID_ARG_VALUE for bad arguments.
void ambit_throw_arg(napi_env env, const char *message);

#endif
