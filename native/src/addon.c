// Ambit's capture addon: the few Linux socket calls Node cannot make (see docs/capture.md).
#include <node_api.h>

#include "netns_socket.h"
#include "sockopts.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socketInNetns", NULL, ambit_socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDst", NULL, ambit_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, ambit_set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTransparent", NULL, ambit_set_transparent_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, ambit_bind, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
