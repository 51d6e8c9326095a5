// Sends prebuilt Ethernet frames through an AF_PACKET socket, which Node cannot open.
// Gratuitous ARP and unsolicited neighbour advertisements are built in TypeScript
// (src/net/frames.ts); this addon only moves bytes. It also reads the credentials of
// the process at the other end of a unix socket (SO_PEERCRED), which Node has no API
// for either. Every failure is returned to JavaScript as an Error with an errno `code`:
// nothing here may abort the process.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi-helpers.h"

// Ethernet header: destination (6), source (6), EtherType (2).
#define ETHERNET_HEADER 14
#define MAX_FRAME 1514

// open(): number — a send-only packet socket (protocol 0 receives nothing), in the
// network namespace of the calling process, non-blocking so a full queue can never
// stall the event loop.
static napi_value open_socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// send(fd, ifindex, frame: Buffer): void — the frame includes its Ethernet header.
static napi_value send_frame(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "send(fd, ifindex, frame) needs three arguments");
    return NULL;
  }
  int32_t fd, ifindex;
  if (!int_argument(env, argv[0], "fd", &fd) || !int_argument(env, argv[1], "ifindex", &ifindex)) return NULL;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer) {
    napi_throw_type_error(env, NULL, "frame must be a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok) return NULL;
  if (length < ETHERNET_HEADER || length > MAX_FRAME) {
    napi_throw_range_error(env, NULL, "frame must be 14 to 1514 bytes long");
    return NULL;
  }
  const unsigned char *bytes = data;
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  memcpy(&to.sll_protocol, bytes + 12, 2);
  to.sll_halen = ETH_ALEN;
  memcpy(to.sll_addr, bytes, ETH_ALEN);
  ssize_t sent = sendto(fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  if (sent < 0) return throw_errno(env, "sendto", errno);
  if ((size_t)sent != length) return throw_errno(env, "sendto (short write)", EMSGSIZE);
  return NULL;
}

// peerCredentials(fd): { pid, uid, gid } of the process that connected the unix socket fd,
// as the kernel recorded them at connect().
static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!only_int_argument(env, info, "fd", &fd)) return NULL;
  struct ucred credentials;
  socklen_t length = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) < 0) return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  napi_value result, pid, uid, gid;
  napi_create_object(env, &result);
  napi_create_int64(env, credentials.pid, &pid);
  napi_create_int64(env, credentials.uid, &uid);
  napi_create_int64(env, credentials.gid, &gid);
  napi_set_named_property(env, result, "pid", pid);
  napi_set_named_property(env, result, "uid", uid);
  napi_set_named_property(env, result, "gid", gid);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, send_frame, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
      {"peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
