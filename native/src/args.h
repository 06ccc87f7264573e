// Reading JS arguments into C values; each helper throws a TypeError and returns false on bad input.
#ifndef AMBIT_ARGS_H
#define AMBIT_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

bool ambit_arg_fd(napi_env env, napi_value value, int *fd);
bool ambit_arg_uint32(napi_env env, napi_value value, const char *what, uint32_t *out);
bool ambit_arg_string(napi_env env, napi_value value, const char *what, char *buf, size_t size);

// Optional properties of an options object; an absent or undefined property leaves *out untouched.
bool ambit_opt_bool(napi_env env, napi_value object, const char *name, bool *out);
bool ambit_opt_uint32(napi_env env, napi_value object, const char *name, bool *present, uint32_t *out);

#endif
