// Netlink sockets driven synchronously, for the IPVS driver (src/ipvs/genl/channel.ts) and
// the conntrack driver's commits (src/sync/conntrack/driver.ts), or on a libuv worker
// thread for the conntrack driver's dumps (exchangeAsync); and multicast
// event sockets read when libuv finds them readable (the conntrack driver's watch).
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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "napi-helpers.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
/** Room left in the reply buffer before another datagram is read: the kernel makes
 *  dump parts of at most 32 KiB (and sizes them by the last recvmsg's buffer). */
#define DATAGRAM_ROOM 65536
/** The receive buffer holds the error replies of a whole batch (see the drivers), the
 *  send buffer a whole batch of requests. */
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
  // a datagram to the kernel is refused beyond the send buffer: room for a batch of requests
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
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

/** Reads the datagrams already queued into `out` from `*used`, each from a 4-byte
 *  boundary, until one ends request `last_seq` (when `ends_at` is set), none is left, or
 *  `out` has no room for another. An overflow the kernel reports (ENOBUFS: it dropped
 *  datagrams for this socket) becomes an NLMSG_OVERRUN header in place when
 *  `mark_overruns` is set, so the reader learns where the gap is and keeps the datagrams
 *  queued after it. Returns 1 once the request ended, 0 otherwise, or -errno. */
static int read_queued(int fd, unsigned char *out, size_t capacity, size_t *used, int ends_at, uint32_t last_seq,
                       int mark_overruns) {
  while (capacity - *used >= DATAGRAM_ROOM) {
    ssize_t received;
    do received = recv(fd, out + *used, capacity - *used, MSG_DONTWAIT | MSG_TRUNC);
    while (received < 0 && errno == EINTR);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno != ENOBUFS || !mark_overruns) return -errno;
      struct nlmsghdr overrun = {.nlmsg_len = sizeof overrun, .nlmsg_type = NLMSG_OVERRUN};
      memcpy(out + *used, &overrun, sizeof overrun);
      *used += sizeof overrun;
      continue;
    }
    if ((size_t)received > capacity - *used) return -EMSGSIZE;
    int ended = ends_at && ends_request(out + *used, (size_t)received, last_seq);
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

/** The bytes written, or the read's failure thrown. */
static napi_value bytes_read(napi_env env, int status, size_t used) {
  if (status == -EMSGSIZE) return throw_errno(env, "recvmsg (a reply larger than the buffer)", EMSGSIZE);
  if (status < 0) return throw_errno(env, "recvmsg", -status);
  napi_value result;
  napi_create_uint32(env, (uint32_t)used, &result);
  return result;
}

// exchange(fd, request: Buffer | null, lastSeq, replies: Buffer): number — sends `request`
// (one or more messages) when given, then reads the datagrams already queued into
// `replies` (see read_queued) until one ends request `lastSeq`. Returns the bytes
// written: the caller parses them and calls again (without a request) while request
// `lastSeq` has not ended.
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
  int status = read_queued(fd, replies, capacity, &used, 1, last_seq, 0);
  return bytes_read(env, status, used);
}

/** An exchangeAsync in flight: the Buffers are held until it completes and written only
 *  by the thread that runs it, while JavaScript waits for the callback. */
struct exchange_work {
  napi_async_work work;
  napi_ref callback, request_ref, replies_ref;
  int fd;
  uint32_t last_seq;
  const void *request;
  size_t request_length;
  unsigned char *replies;
  size_t capacity, used;
  int send_error, status;
};

static void exchange_execute(napi_env env, void *data) {
  (void)env;
  struct exchange_work *job = data;
  if (job->request != NULL) job->send_error = send_to_kernel(job->fd, job->request, job->request_length);
  if (job->send_error == 0) job->status = read_queued(job->fd, job->replies, job->capacity, &job->used, 1, job->last_seq, 0);
}

static void exchange_complete(napi_env env, napi_status status, void *data) {
  struct exchange_work *job = data;
  napi_value callback, receiver, argv[2], result;
  if (job->send_error != 0) argv[0] = errno_error(env, "sendmsg", job->send_error);
  else if (job->status == -EMSGSIZE) argv[0] = errno_error(env, "recvmsg (a reply larger than the buffer)", EMSGSIZE);
  else if (job->status < 0) argv[0] = errno_error(env, "recvmsg", -job->status);
  else if (status != napi_ok) argv[0] = errno_error(env, "exchangeAsync (cancelled)", ECANCELED);
  else napi_get_null(env, &argv[0]);
  napi_create_uint32(env, (uint32_t)job->used, &argv[1]);
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &receiver);
  napi_delete_reference(env, job->callback);
  if (job->request_ref != NULL) napi_delete_reference(env, job->request_ref);
  napi_delete_reference(env, job->replies_ref);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, receiver, callback, 2, argv, &result);
}

// exchangeAsync(fd, request: Buffer | null, lastSeq, replies: Buffer, callback(error, used)):
// exchange's work on a libuv worker thread. A dump of the conntrack table walks every
// bucket of the kernel's hash table inside the sendmsg and recvmsg calls (about 30 ms for
// 262,144 empty buckets): off the event loop, heartbeats and a claim go on meanwhile. The
// socket and both Buffers must be left alone until `callback` runs.
static napi_value exchange_async(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_arguments(env, info, 5, argv, "exchangeAsync(fd, request, lastSeq, replies, callback)")) return NULL;
  struct exchange_work job = {0};
  if (!int_argument(env, argv[0], "fd", &job.fd)) return NULL;
  if (napi_get_value_uint32(env, argv[2], &job.last_seq) != napi_ok) {
    napi_throw_type_error(env, NULL, "lastSeq must be a number");
    return NULL;
  }
  void *replies;
  if (!buffer_argument(env, argv[3], "replies", &replies, &job.capacity)) return NULL;
  job.replies = replies;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_null) {
    void *request;
    if (!buffer_argument(env, argv[1], "request", &request, &job.request_length)) return NULL;
    job.request = request;
  }
  napi_typeof(env, argv[4], &type);
  if (type != napi_function) {
    napi_throw_type_error(env, NULL, "callback must be a function");
    return NULL;
  }
  struct exchange_work *queued = malloc(sizeof *queued);
  if (queued == NULL) return throw_errno(env, "exchangeAsync", ENOMEM);
  *queued = job;
  napi_value name;
  napi_create_string_utf8(env, "tandem.netlink.exchange", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, exchange_execute, exchange_complete, queued, &queued->work) != napi_ok) {
    free(queued);
    return throw_errno(env, "exchangeAsync", ENOMEM);
  }
  napi_create_reference(env, argv[4], 1, &queued->callback);
  if (queued->request != NULL) napi_create_reference(env, argv[1], 1, &queued->request_ref);
  napi_create_reference(env, argv[3], 1, &queued->replies_ref);
  napi_queue_async_work(env, queued->work);
  return NULL;
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
  if (state[1] != 0) status = read_queued(fd, out, capacity, &used, 1, state[1], 0);
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
    status = read_queued(fd, out, capacity, &used, 1, header.nlmsg_seq, 0);
    if (status != 1) state[1] = header.nlmsg_seq;
  }
  if (status >= 0) state[0] = (uint32_t)offset;
  return bytes_read(env, status, used);
}

/** The two numbers a call takes (`call` and the names in the TypeError); 0 when it threw. */
static int two_int_arguments(napi_env env, napi_callback_info info, const char *call, const char *first, int32_t *a,
                             const char *second, int32_t *b) {
  napi_value argv[2];
  if (!get_arguments(env, info, 2, argv, call)) return 0;
  return int_argument(env, argv[0], first, a) && int_argument(env, argv[1], second, b);
}

// subscribe(fd, group): void — joins a multicast group of the socket's protocol.
static napi_value subscribe(napi_env env, napi_callback_info info) {
  int32_t fd, group;
  if (!two_int_arguments(env, info, "subscribe(fd, group)", "fd", &fd, "group", &group)) return NULL;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
    return throw_errno(env, "setsockopt(NETLINK_ADD_MEMBERSHIP)", errno);
  return NULL;
}

// setReceiveBuffer(fd, bytes): number — the receive buffer the kernel granted (it doubles
// the request for its bookkeeping; without CAP_NET_ADMIN, capped at net.core.rmem_max).
static napi_value set_receive_buffer(napi_env env, napi_callback_info info) {
  int32_t fd, size;
  if (!two_int_arguments(env, info, "setReceiveBuffer(fd, bytes)", "fd", &fd, "bytes", &size)) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
    return throw_errno(env, "setsockopt(SO_RCVBUF)", errno);
  int granted = 0;
  socklen_t length = sizeof granted;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) < 0) return throw_errno(env, "getsockopt(SO_RCVBUF)", errno);
  napi_value result;
  napi_create_int32(env, granted, &result);
  return result;
}

// receive(fd, buffer: Buffer): number — the datagrams already queued (multicast events),
// read without waiting into `buffer` (see read_queued: an overflow is an NLMSG_OVERRUN
// header in place, never an exception). Returns the bytes written.
static napi_value receive(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_arguments(env, info, 2, argv, "receive(fd, buffer)")) return NULL;
  int32_t fd;
  if (!int_argument(env, argv[0], "fd", &fd)) return NULL;
  void *out;
  size_t capacity;
  if (!buffer_argument(env, argv[1], "buffer", &out, &capacity)) return NULL;
  size_t used = 0;
  int status = read_queued(fd, out, capacity, &used, 0, 0, 1);
  return bytes_read(env, status, used);
}

/** A socket watched by libuv: its callback runs on the event loop when it is readable.
 *  Freed once libuv has closed the poll and JavaScript has dropped the handle, whichever
 *  comes last, so a late unpoll of a stopped handle reads no freed memory. */
struct readable_watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int closed, collected;
};

static void on_closed(uv_handle_t *handle) {
  struct readable_watch *watch = handle->data;
  watch->closed = 1;
  if (watch->collected) free(watch);
}

static void on_collected(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  struct readable_watch *watch = data;
  watch->collected = 1;
  if (watch->closed) free(watch);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct readable_watch *watch = poll->data;
  napi_env env = watch->env;
  int error = 0, stopped = 0;
  if (status < 0) {
    // libuv stops a poll whose socket reports an error (POLLERR), as netlink does while
    // a datagram-dropping overflow is pending (ENOBUFS): fetching the error clears it, so
    // a socket that is still there is polled again; a reader then learns of the loss.
    int fd;
    socklen_t length = sizeof error;
    if (uv_fileno((uv_handle_t *)poll, &fd) == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
        uv_poll_start(poll, UV_READABLE, on_readable) == 0) {
      if (error == 0) return; // nothing to tell: the next readable call will come
    } else {
      error = -status;
      stopped = 1;
    }
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[2], result;
  napi_get_reference_value(env, watch->callback, &callback);
  napi_get_global(env, &receiver); // MakeCallback wants an object
  napi_create_int32(env, error, &argv[0]);
  napi_get_boolean(env, stopped, &argv[1]);
  if (napi_make_callback(env, watch->context, receiver, callback, 2, argv, &result) == napi_pending_exception) {
    // what a throwing JavaScript callback does anywhere else: an uncaught exception
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

// poll(fd, callback(errno, stopped)): handle — calls `callback(0, false)` on the event loop
// whenever the socket has datagrams queued (level-triggered: again on the next turn while
// any are left, so a reader may stop after a time budget); `callback(errno, false)` for an
// error the socket reported (ENOBUFS: the kernel dropped datagrams), the poll going on;
// `callback(errno, true)` once when the poll had to stop. unpoll(handle) stops it.
static napi_value poll_readable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_arguments(env, info, 2, argv, "poll(fd, callback)")) return NULL;
  int32_t fd;
  if (!int_argument(env, argv[0], "fd", &fd)) return NULL;
  napi_valuetype callback_type = napi_undefined;
  napi_typeof(env, argv[1], &callback_type);
  if (callback_type != napi_function) {
    napi_throw_type_error(env, NULL, "callback must be a function");
    return NULL;
  }
  struct uv_loop_s *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  struct readable_watch *watch = calloc(1, sizeof *watch);
  if (watch == NULL) return throw_errno(env, "poll", ENOMEM);
  watch->env = env;
  watch->poll.data = watch;
  int failure = uv_poll_init(loop, &watch->poll, fd);
  if (failure != 0) {
    free(watch);
    return throw_errno(env, "uv_poll_init", -failure);
  }
  failure = uv_poll_start(&watch->poll, UV_READABLE, on_readable);
  if (failure != 0) {
    watch->collected = 1; // no handle was handed out
    uv_close((uv_handle_t *)&watch->poll, on_closed);
    return throw_errno(env, "uv_poll_start", -failure);
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "tandem.netlink.poll", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &watch->callback);
  napi_async_init(env, NULL, name, &watch->context);
  napi_create_external(env, watch, on_collected, NULL, &handle);
  return handle;
}

// unpoll(handle): void — stops a poll; its callback is not called again.
static napi_value unpoll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  struct readable_watch *watch = NULL;
  if (type != napi_external || napi_get_value_external(env, argv[0], (void **)&watch) != napi_ok || watch == NULL) {
    napi_throw_type_error(env, NULL, "unpoll needs the handle poll returned");
    return NULL;
  }
  if (watch->callback == NULL) return NULL; // stopped already
  uv_poll_stop(&watch->poll);
  napi_delete_reference(env, watch->callback);
  watch->callback = NULL;
  napi_async_destroy(env, watch->context);
  uv_close((uv_handle_t *)&watch->poll, on_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"port", NULL, socket_port, NULL, NULL, NULL, napi_default, NULL},
      {"exchange", NULL, exchange, NULL, NULL, NULL, napi_default, NULL},
      {"exchangeAsync", NULL, exchange_async, NULL, NULL, NULL, napi_default, NULL},
      {"dumpEach", NULL, dump_each, NULL, NULL, NULL, napi_default, NULL},
      {"subscribe", NULL, subscribe, NULL, NULL, NULL, napi_default, NULL},
      {"setReceiveBuffer", NULL, set_receive_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"receive", NULL, receive, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, poll_readable, NULL, NULL, NULL, napi_default, NULL},
      {"unpoll", NULL, unpoll, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
