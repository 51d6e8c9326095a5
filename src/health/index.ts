// Real-server health checking (Piranha's nanny, ldirectord, keepalived's checkers).
export {
  HealthMonitor,
  DEFAULT_MAX_CONCURRENT_CHECKS,
  DEFAULT_MAX_CONCURRENT_PROGRAMS,
  RAMP_TICK_MS,
  type HealthChange,
  type HealthMonitorOptions,
  type MonitorStats,
  type ObservationStatus,
  type ServerHealthStatus,
  type ServerStatusState,
} from './monitor.js';
export type { Check, CheckTarget, Probe } from './check.js';
export { runCheck } from './run-check.js';
export { planHealth, serverKey, serviceKey, type PlannedServer } from './plan.js';
export type { CheckResult, CheckFailure, CheckPass, CheckInconclusive, FailureReason } from './result.js';
export {
  effectiveWeight,
  initialHealth,
  isUp,
  observe,
  type HealthPolicy,
  type HealthState,
  type HealthTransition,
  type ServerHealth,
} from './state.js';
