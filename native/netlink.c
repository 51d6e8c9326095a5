// A netlink socket driven synchronously, for the IPVS driver (src/ipvs/genl/channel.ts).
// The kernel handles a generic netlink request inside the sender's sendmsg and queues
// its replies before the call returns (a dump's next part is made inside recvmsg), so
// one call can send a batch of requests and read every reply to it without waiting on
// the event loop: no callback, timer or Buffer per datagram, which cost more than the
// kernel's own work on tables of 100,000 services. Failures are Errors with an errno
// `code`; nothing here may abort the process.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi-helpers.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
/** Room left in the reply buffer before another datagram is read: the kernel makes
 *  dump parts of at most 32 KiB (and sizes them by the last recvmsg's buffer). */
#define DATAGRAM_ROOM 65536
/** The receive buffer holds the error replies of a whole batch (see the driver). */
#define RECEIVE_BUFFER (4 << 20)

// open(protocol): number — a netlink socket of that protocol, bound to a port the kernel
// picks, in the network namespace of the calling process. Error replies carry no copy of
// the request (NETLINK_CAP_ACK): only its header, which is all the driver reads.
static napi_value open_socket(napi_env env, napi_callback_info info) {
  int32_t protocol;
  if (!only_int_argument(env, info, "protocol", &protocol)) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  int size = RECEIVE_BUFFER;
  // FORCE goes beyond net.core.rmem_max and needs CAP_NET_ADMIN, which IPVS needs anyway
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  int on = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  struct sockaddr_nl local;
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "bind(AF_NETLINK)", error);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// port(fd): number — the port the socket is bound to (the requests' nlmsg_pid).
static napi_value socket_port(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!only_int_argument(env, info, "fd", &fd)) return NULL;
  struct sockaddr_nl local;
  socklen_t length = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &length) < 0) return throw_errno(env, "getsockname", errno);
  napi_value result;
  napi_create_uint32(env, local.nl_pid, &result);
  return result;
}

/** Whether the messages of one datagram hold the end of request `seq`: its error or
 *  acknowledgement, or the end of its dump. */
static int ends_request(const unsigned char *data, size_t length, uint32_t seq) {
  size_t offset = 0;
  while (offset + sizeof(struct nlmsghdr) <= length) {
    struct nlmsghdr header;
    memcpy(&header, data + offset, sizeof header);
    if (header.nlmsg_len < sizeof header || offset + header.nlmsg_len > length) return 0;
    if (header.nlmsg_seq == seq && (header.nlmsg_type == NLMSG_ERROR || header.nlmsg_type == NLMSG_DONE)) return 1;
    offset += NLMSG_ALIGN(header.nlmsg_len);
  }
  return 0;
}

// exchange(fd, request: Buffer | null, lastSeq, replies: Buffer): number — sends `request`
// (one or more messages) when given, then reads the datagrams already queued into
// `replies`, each from a 4-byte boundary, until one ends request `lastSeq`, none is
// left, or `replies` has no room for another. Returns the bytes written: the caller
// parses them and calls again (without a request) while request `lastSeq` has not ended.
static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "exchange(fd, request, lastSeq, replies) needs four arguments");
    return NULL;
  }
  int32_t fd;
  if (!int_argument(env, argv[0], "fd", &fd)) return NULL;
  uint32_t last_seq;
  if (napi_get_value_uint32(env, argv[2], &last_seq) != napi_ok) {
    napi_throw_type_error(env, NULL, "lastSeq must be a number");
    return NULL;
  }
  bool is_buffer = false;
  void *replies;
  size_t capacity;
  if (napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[3], &replies, &capacity) != napi_ok) {
    napi_throw_type_error(env, NULL, "replies must be a Buffer");
    return NULL;
  }
  napi_valuetype request_type;
  napi_typeof(env, argv[1], &request_type);
  if (request_type != napi_null) {
    void *request;
    size_t length;
    if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, argv[1], &request, &length) != napi_ok) {
      napi_throw_type_error(env, NULL, "request must be a Buffer or null");
      return NULL;
    }
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do sent = sendto(fd, request, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) return throw_errno(env, "sendmsg", errno);
  }
  unsigned char *out = replies;
  size_t used = 0;
  while (capacity - used >= DATAGRAM_ROOM) {
    ssize_t received;
    do received = recv(fd, out + used, capacity - used, MSG_DONTWAIT | MSG_TRUNC);
    while (received < 0 && errno == EINTR);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return throw_errno(env, "recvmsg", errno);
    }
    if ((size_t)received > capacity - used) return throw_errno(env, "recvmsg (a reply larger than the buffer)", EMSGSIZE);
    int ended = ends_request(out + used, (size_t)received, last_seq);
    size_t aligned = NLMSG_ALIGN((size_t)received);
    memset(out + used + received, 0, aligned - (size_t)received);
    used += aligned;
    if (ended) break;
  }
  napi_value result;
  napi_create_uint32(env, (uint32_t)used, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"port", NULL, socket_port, NULL, NULL, NULL, napi_default, NULL},
      {"exchange", NULL, exchange, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
