// A socket belongs to the network namespace of the thread that created it, for its whole life.
// setns() changes only the calling thread, so we create the socket on a short-lived pthread that
// enters the pod's namespace and then exits: the JS thread and libuv's threads never switch namespace.
#include "netns_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "sockopts.h"

typedef struct {
  char ns_path[PATH_MAX];
  int domain;
  int type;
  bool has_mark;
  uint32_t mark;
  bool transparent;
  bool freebind;
  bool reuse_addr;
  bool reuse_port;
  bool bind_address_no_port;
  int fd;
  int err;
  const char *syscall;
} socket_job;

static void *fail(socket_job *job, int fd, const char *syscall) {
  job->err = errno;
  job->syscall = syscall;
  if (fd >= 0) close(fd);
  return NULL;
}

static void *create_in_netns(void *arg) {
  socket_job *job = arg;
  int nsfd = open(job->ns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return fail(job, -1, "open");
  if (setns(nsfd, CLONE_NEWNET) < 0) {
    int saved = errno;
    close(nsfd);
    errno = saved;
    return fail(job, -1, "setns");
  }
  close(nsfd);

  int fd = socket(job->domain, job->type | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(job, -1, "socket");
  // Options are set here, before Node adopts the fd, so the first packet already carries the mark.
  int one = 1;
  if (job->reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return fail(job, fd, "setsockopt(SO_REUSEADDR)");
  if (job->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    return fail(job, fd, "setsockopt(SO_REUSEPORT)");
  if (job->has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &job->mark, sizeof job->mark) < 0)
    return fail(job, fd, "setsockopt(SO_MARK)");
  if (job->transparent && ambit_set_transparent(fd, job->domain) < 0) return fail(job, fd, "setsockopt(IP_TRANSPARENT)");
  if (job->freebind && ambit_set_freebind(fd, job->domain) < 0) return fail(job, fd, "setsockopt(IP_FREEBIND)");
  // Lets bind(foreignIp, 0) defer the port choice to connect(), which checks the full 4-tuple;
  // without it spoofed connects collapse under TIME_WAIT churn (feasibility.md §3.2).
  if (job->bind_address_no_port && setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0)
    return fail(job, fd, "setsockopt(IP_BIND_ADDRESS_NO_PORT)");
  job->fd = fd;
  return NULL;
}

static bool read_family(napi_env env, napi_value value, int *domain) {
  uint32_t family;
  if (!ambit_arg_uint32(env, value, "family", &family)) return false;
  if (family != 4 && family != 6) {
    ambit_throw_arg(env, "family must be 4 or 6");
    return false;
  }
  *domain = family == 4 ? AF_INET : AF_INET6;
  return true;
}

static bool read_type(napi_env env, napi_value value, int *type) {
  char name[8];
  if (!ambit_arg_string(env, value, "type", name, sizeof name)) return false;
  if (strcmp(name, "tcp") == 0) {
    *type = SOCK_STREAM;
  } else if (strcmp(name, "udp") == 0) {
    *type = SOCK_DGRAM;
  } else {
    ambit_throw_arg(env, "type must be \"tcp\" or \"udp\"");
    return false;
  }
  return true;
}

static bool read_options(napi_env env, napi_value opts, socket_job *job) {
  return ambit_opt_uint32(env, opts, "mark", &job->has_mark, &job->mark) &&
         ambit_opt_bool(env, opts, "transparent", &job->transparent) &&
         ambit_opt_bool(env, opts, "freebind", &job->freebind) &&
         ambit_opt_bool(env, opts, "reuseAddr", &job->reuse_addr) &&
         ambit_opt_bool(env, opts, "reusePort", &job->reuse_port) &&
         ambit_opt_bool(env, opts, "bindAddressNoPort", &job->bind_address_no_port);
}

napi_value ambit_socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    ambit_throw_arg(env, "socketInNetns(nsPath, family, type, opts?) needs at least three arguments");
    return NULL;
  }
  socket_job job = {.fd = -1};
  if (!ambit_arg_string(env, argv[0], "nsPath", job.ns_path, sizeof job.ns_path)) return NULL;
  if (!read_family(env, argv[1], &job.domain) || !read_type(env, argv[2], &job.type)) return NULL;
  if (!read_options(env, argc > 3 ? argv[3] : NULL, &job)) return NULL;

  pthread_t thread;
  int rc = pthread_create(&thread, NULL, create_in_netns, &job);
  if (rc != 0) {
    ambit_throw_errno(env, rc, "pthread_create");
    return NULL;
  }
  pthread_join(thread, NULL);
  if (job.fd < 0) {
    ambit_throw_errno(env, job.err, job.syscall);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, job.fd, &result);
  return result;
}
