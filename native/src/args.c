#include "args.h"

#include <stdio.h>

#include "errors.h"

static bool is_type(napi_env env, napi_value value, napi_valuetype want) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == want;
}

bool ambit_arg_uint32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  double number;
  if (!is_type(env, value, napi_number) || napi_get_value_double(env, value, &number) != napi_ok ||
      number < 0 || number > UINT32_MAX || number != (double)(uint32_t)number) {
    char message[96];
    snprintf(message, sizeof message, "%s must be an integer in [0, 2^32)", what);
    ambit_throw_arg(env, message);
    return false;
  }
  *out = (uint32_t)number;
  return true;
}

bool ambit_arg_fd(napi_env env, napi_value value, int *fd) {
  uint32_t raw;
  if (!ambit_arg_uint32(env, value, "fd", &raw)) return false;
  if (raw > INT32_MAX) {
    ambit_throw_arg(env, "fd is out of range");
    return false;
  }
  *fd = (int)raw;
  return true;
}

bool ambit_arg_string(napi_env env, napi_value value, const char *what, char *buf, size_t size) {
  size_t length;
  if (!is_type(env, value, napi_string) || napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok ||
      length == 0 || length >= size) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a non-empty string shorter than %zu bytes", what, size);
    ambit_throw_arg(env, message);
    return false;
  }
  return napi_get_value_string_utf8(env, value, buf, size, &length) == napi_ok;
}

static bool get_optional(napi_env env, napi_value object, const char *name, napi_value *value, bool *present) {
  *present = false;
  if (object == NULL || is_type(env, object, napi_undefined)) return true;
  if (!is_type(env, object, napi_object)) {
    ambit_throw_arg(env, "options must be an object");
    return false;
  }
  if (napi_get_named_property(env, object, name, value) != napi_ok) return false;
  *present = !is_type(env, *value, napi_undefined);
  return true;
}

bool ambit_opt_bool(napi_env env, napi_value object, const char *name, bool *out) {
  napi_value value;
  bool present;
  if (!get_optional(env, object, name, &value, &present)) return false;
  if (!present) return true;
  if (!is_type(env, value, napi_boolean)) {
    char message[96];
    snprintf(message, sizeof message, "options.%s must be a boolean", name);
    ambit_throw_arg(env, message);
    return false;
  }
  return napi_get_value_bool(env, value, out) == napi_ok;
}

bool ambit_opt_uint32(napi_env env, napi_value object, const char *name, bool *present, uint32_t *out) {
  napi_value value;
  if (!get_optional(env, object, name, &value, present)) return false;
  if (!*present) return true;
  char what[64];
  snprintf(what, sizeof what, "options.%s", name);
  return ambit_arg_uint32(env, value, what, out);
}
