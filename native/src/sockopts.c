#include "sockopts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "errors.h"

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; those headers clash with glibc's.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

int ambit_set_transparent(int fd, int domain) {
  int one = 1;
  if (domain == AF_INET6) return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one);
  return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
}

int ambit_set_freebind(int fd, int domain) {
  int one = 1;
  if (domain == AF_INET6) return setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof one);
  return setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
}

static int socket_domain(int fd, int *domain) {
  socklen_t len = sizeof *domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len);
}

static bool read_fd_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int *fd) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    ambit_throw_arg(env, "missing arguments");
    return false;
  }
  return ambit_arg_fd(env, argv[0], fd);
}

static napi_value address_object(napi_env env, int family, const void *addr, uint16_t port_be) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, addr, text, sizeof text);
  napi_value result, address, port, fam;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_uint32(env, ntohs(port_be), &port);
  napi_create_uint32(env, family == AF_INET ? 4 : 6, &fam);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port);
  napi_set_named_property(env, result, "family", fam);
  return result;
}

// Like ztunnel's orig_dst_addr: ask conntrack through the IPv4 option first, then the IPv6 one.
napi_value ambit_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!read_fd_args(env, info, 1, argv, &fd)) return NULL;

  struct sockaddr_in v4;
  socklen_t len = sizeof v4;
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &v4, &len) == 0) return address_object(env, AF_INET, &v4.sin_addr, v4.sin_port);
  int v4_err = errno;

  int domain;
  if (socket_domain(fd, &domain) == 0 && domain == AF_INET6) {
    struct sockaddr_in6 v6;
    len = sizeof v6;
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &v6, &len) == 0)
      return address_object(env, AF_INET6, &v6.sin6_addr, v6.sin6_port);
    ambit_throw_errno(env, errno, "getsockopt(IP6T_SO_ORIGINAL_DST)");
    return NULL;
  }
  ambit_throw_errno(env, v4_err, "getsockopt(SO_ORIGINAL_DST)");
  return NULL;
}

napi_value ambit_set_mark(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t mark;
  if (!read_fd_args(env, info, 2, argv, &fd) || !ambit_arg_uint32(env, argv[1], "mark", &mark)) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) ambit_throw_errno(env, errno, "setsockopt(SO_MARK)");
  return NULL;
}

napi_value ambit_set_transparent_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, domain;
  if (!read_fd_args(env, info, 1, argv, &fd)) return NULL;
  if (socket_domain(fd, &domain) < 0) {
    ambit_throw_errno(env, errno, "getsockopt(SO_DOMAIN)");
    return NULL;
  }
  if (ambit_set_transparent(fd, domain) < 0) ambit_throw_errno(env, errno, "setsockopt(IP_TRANSPARENT)");
  return NULL;
}

// bind() needs no namespace switch: the socket already lives in its namespace.
// An IPv4 address given for an IPv6 socket is bound as ::ffff:a.b.c.d.
napi_value ambit_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd, domain;
  char text[INET6_ADDRSTRLEN];
  uint32_t port;
  if (!read_fd_args(env, info, 3, argv, &fd) || !ambit_arg_string(env, argv[1], "address", text, sizeof text) ||
      !ambit_arg_uint32(env, argv[2], "port", &port))
    return NULL;
  if (port > 65535) {
    ambit_throw_arg(env, "port must be in [0, 65535]");
    return NULL;
  }
  if (socket_domain(fd, &domain) < 0) {
    ambit_throw_errno(env, errno, "getsockopt(SO_DOMAIN)");
    return NULL;
  }

  struct sockaddr_storage storage;
  memset(&storage, 0, sizeof storage);
  socklen_t len;
  struct in_addr v4;
  bool is_v4 = inet_pton(AF_INET, text, &v4) == 1;
  if (domain == AF_INET) {
    struct sockaddr_in *sa = (struct sockaddr_in *)&storage;
    if (!is_v4) {
      ambit_throw_arg(env, "address must be an IPv4 address for an IPv4 socket");
      return NULL;
    }
    sa->sin_family = AF_INET;
    sa->sin_addr = v4;
    sa->sin_port = htons((uint16_t)port);
    len = sizeof *sa;
  } else {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&storage;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    if (is_v4) {
      sa->sin6_addr.s6_addr[10] = 0xff;
      sa->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sa->sin6_addr.s6_addr[12], &v4, sizeof v4);
    } else if (inet_pton(AF_INET6, text, &sa->sin6_addr) != 1) {
      ambit_throw_arg(env, "address must be an IP address");
      return NULL;
    }
    len = sizeof *sa;
  }
  if (bind(fd, (struct sockaddr *)&storage, len) < 0) ambit_throw_errno(env, errno, "bind");
  return NULL;
}
