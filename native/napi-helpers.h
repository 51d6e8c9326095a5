// What the addons need of N-API: errno failures thrown as Errors whose `code` is the
// errno's name, and numeric arguments checked. Nothing here may abort the process.
#ifndef TANDEM_NAPI_HELPERS_H
#define TANDEM_NAPI_HELPERS_H

#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/** An Error for a failed `operation`, its `code` the errno's name (NULL if N-API failed). */
static inline napi_value errno_error(napi_env env, const char *operation, int error) {
  char message[160];
  const char *name = strerrorname_np(error);
  char fallback[16];
  if (name == NULL) {
    snprintf(fallback, sizeof fallback, "E%d", error);
    name = fallback;
  }
  snprintf(message, sizeof message, "%s: %s (%s)", operation, strerror(error), name);
  napi_value code, text, result;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &result) != napi_ok)
    return NULL;
  return result;
}

static inline napi_value throw_errno(napi_env env, const char *operation, int error) {
  napi_value exception = errno_error(env, operation, error);
  if (exception != NULL) napi_throw(env, exception);
  return NULL;
}

static inline int int_argument(napi_env env, napi_value value, const char *what, int32_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_int32(env, value, out) != napi_ok) {
    char message[80];
    snprintf(message, sizeof message, "%s must be a number", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

/** The first `count` arguments of a call into `argv` (room for `count`); 0 when it threw
 *  a TypeError quoting `usage` because some are missing. */
static inline int get_arguments(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < count) {
    char message[120];
    snprintf(message, sizeof message, "%s needs %zu arguments", usage, count);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

/** The one number a call takes (`what` names it in the TypeError); 0 when it threw. */
static inline int only_int_argument(napi_env env, napi_callback_info info, const char *what, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "a number argument is missing");
    return 0;
  }
  return int_argument(env, argv[0], what, out);
}

// close(fd): void — both addons' sockets are plain file descriptors.
static inline napi_value close_socket(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!only_int_argument(env, info, "fd", &fd)) return NULL;
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

#endif
