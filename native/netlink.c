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

/** Reads the datagrams queued for request `seq` into `out` from `*used`, while room is
 *  left for another; 1 once one ends the request, 0 when none is queued or room ran out,
 *  -errno on failure. */
static int read_replies(int fd, uint32_t seq, unsigned char *out, size_t capacity, size_t *used) {
  while (capacity - *used >= DATAGRAM_ROOM) {
    ssize_t received;
    do received = recv(fd, out + *used, capacity - *used, MSG_DONTWAIT | MSG_TRUNC);
    while (received < 0 && errno == EINTR);
    if (received < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    if ((size_t)received > capacity - *used) return -EMSGSIZE;
    int ended = ends_request(out + *used, (size_t)received, seq);
    size_t aligned = NLMSG_ALIGN((size_t)received);
    memset(out + *used + received, 0, aligned - (size_t)received);
    *used += aligned;
    if (ended) return 1;
  }
  return 0;
}

/** One datagram to the kernel; 0, or the errno of the failure. */
static int send_to_kernel(int fd, const void *data, size_t length) {
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do sent = sendto(fd, data, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (sent < 0 && errno == EINTR);
  return sent < 0 ? errno : 0;
}

/** A Buffer argument (`what` names it in the TypeError); 0 when it threw. */
static int buffer_argument(napi_env env, napi_value value, const char *what, void **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, value, data, length) != napi_ok) {
    char message[80];
    snprintf(message, sizeof message, "%s must be a Buffer", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

static napi_value throw_read_failure(napi_env env, int status) {
  return throw_errno(env, status == -EMSGSIZE ? "recvmsg (a reply larger than the buffer)" : "recvmsg", -status);
}

// exchange(fd, request: Buffer | null, lastSeq, replies: Buffer): number — sends `request`
// (one or more messages) when given, then reads the datagrams already queued into
// `replies`, each from a 4-byte boundary, until one ends request `lastSeq`, none is
// left, or `replies` has no room for another. Returns the bytes written: the caller
// parses them and calls again (without a request) while request `lastSeq` has not ended.
static napi_value exchange(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_arguments(env, info, 4, argv, "exchange(fd, request, lastSeq, replies)")) return NULL;
  int32_t fd;
  if (!int_argument(env, argv[0], "fd", &fd)) return NULL;
  uint32_t last_seq;
  if (napi_get_value_uint32(env, argv[2], &last_seq) != napi_ok) {
    napi_throw_type_error(env, NULL, "lastSeq must be a number");
    return NULL;
  }
  void *replies;
  size_t capacity;
  if (!buffer_argument(env, argv[3], "replies", &replies, &capacity)) return NULL;
  napi_valuetype request_type;
  napi_typeof(env, argv[1], &request_type);
  if (request_type != napi_null) {
    void *request;
    size_t length;
    if (!buffer_argument(env, argv[1], "request", &request, &length)) return NULL;
    int error = send_to_kernel(fd, request, length);
    if (error != 0) return throw_errno(env, "sendmsg", error);
  }
  size_t used = 0;
  int status = read_replies(fd, last_seq, replies, capacity, &used);
  if (status < 0) return throw_read_failure(env, status);
  napi_value result;
  napi_create_uint32(env, (uint32_t)used, &result);
  return result;
}

// dumpEach(fd, requests: Buffer, state: Uint32Array, replies: Buffer): number — the
// dump requests framed in `requests` sent one after another from byte state[0] (the
// kernel runs one dump per socket at a time, so each waits for the end of the one
// before), their replies read into `replies` while it has room. state[1] is the
// sequence number of a dump sent whose replies have not all been read (0: none),
// read first. Updates both and returns the bytes written: one call reads the
// destinations of a few hundred services, which libipvs asks for one socket each.
static napi_value dump_each(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_arguments(env, info, 4, argv, "dumpEach(fd, requests, state, replies)")) return NULL;
  int32_t fd;
  if (!int_argument(env, argv[0], "fd", &fd)) return NULL;
  void *requests, *replies;
  size_t length, capacity;
  if (!buffer_argument(env, argv[1], "requests", &requests, &length) ||
      !buffer_argument(env, argv[3], "replies", &replies, &capacity))
    return NULL;
  bool is_typedarray = false;
  napi_typedarray_type state_type;
  size_t state_length;
  void *state_data;
  if (napi_is_typedarray(env, argv[2], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[2], &state_type, &state_length, &state_data, NULL, NULL) != napi_ok ||
      state_type != napi_uint32_array || state_length < 2) {
    napi_throw_type_error(env, NULL, "state must be a Uint32Array of two");
    return NULL;
  }
  uint32_t *state = state_data;
  unsigned char *out = replies;
  const unsigned char *framed = requests;
  size_t offset = state[0];
  size_t used = 0;
  int status = 1;
  if (state[1] != 0) status = read_replies(fd, state[1], out, capacity, &used);
  if (status == 1) state[1] = 0;
  while (status == 1 && offset + sizeof(struct nlmsghdr) <= length && capacity - used >= DATAGRAM_ROOM) {
    struct nlmsghdr header;
    memcpy(&header, framed + offset, sizeof header);
    if (header.nlmsg_len < sizeof header || offset + header.nlmsg_len > length) {
      napi_throw_range_error(env, NULL, "requests holds a truncated netlink message");
      return NULL;
    }
    int error = send_to_kernel(fd, framed + offset, header.nlmsg_len);
    if (error != 0) return throw_errno(env, "sendmsg", error);
    offset += NLMSG_ALIGN(header.nlmsg_len);
    status = read_replies(fd, header.nlmsg_seq, out, capacity, &used);
    if (status != 1) state[1] = header.nlmsg_seq;
  }
  if (status < 0) return throw_read_failure(env, status);
  state[0] = (uint32_t)offset;
  napi_value result;
  napi_create_uint32(env, (uint32_t)used, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"port", NULL, socket_port, NULL, NULL, NULL, napi_default, NULL},
      {"exchange", NULL, exchange, NULL, NULL, NULL, napi_default, NULL},
      {"dumpEach", NULL, dump_each, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
