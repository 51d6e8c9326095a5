// Sets the scheduling of another thread of this process, which Node cannot: the daemon
// ranks each helper thread it starts (a worker) the moment it exists, because a thread
// begins at normal scheduling at nice 0 (the event loop has reset-on-fork) and, runnable
// behind busy processes, held locks the real-time event loop then waited for (README
// "Reload"). Failures come back as Errors with an errno `code`: nothing here may abort the process.
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <sched.h>

#include "napi-helpers.h"

// setResetOnFork(tid): void — normal scheduling with reset-on-fork, as the event loop has,
// for a thread about to get a raised nice value: what it starts (check programs) begins at nice 0.
static napi_value set_reset_on_fork(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_arguments(env, info, 1, argv, "setResetOnFork(tid)")) return NULL;
  int32_t tid;
  if (!int_argument(env, argv[0], "tid", &tid)) return NULL;
  struct sched_param param = {.sched_priority = 0};
  if (sched_setscheduler(tid, SCHED_OTHER | SCHED_RESET_ON_FORK, &param) < 0) return throw_errno(env, "sched_setscheduler", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"setResetOnFork", NULL, set_reset_on_fork, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
