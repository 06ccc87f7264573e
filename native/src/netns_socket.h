#ifndef AMBIT_NETNS_SOCKET_H
#define AMBIT_NETNS_SOCKET_H

#include <node_api.h>

// socketInNetns(nsPath, family: 4|6, type: "tcp"|"udp", opts?) -> fd
napi_value ambit_socket_in_netns(napi_env env, napi_callback_info info);

#endif
