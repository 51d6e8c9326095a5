// What both addons need of N-API: errno failures thrown as Errors whose `code` is the
// errno's name, and numeric arguments checked. Nothing here may abort the process.
#ifndef TANDEM_NAPI_HELPERS_H
#define TANDEM_NAPI_HELPERS_H

#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static napi_value throw_errno(napi_env env, const char *operation, int error) {
  char message[160];
  const char *name = strerrorname_np(error);
  char fallback[16];
  if (name == NULL) {
    snprintf(fallback, sizeof fallback, "E%d", error);
    name = fallback;
  }
  snprintf(message, sizeof message, "%s: %s (%s)", operation, strerror(error), name);
  napi_throw_error(env, name, message);
  return NULL;
}

static int int_argument(napi_env env, napi_value value, const char *what, int32_t *out) {
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

#endif
