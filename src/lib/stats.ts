// Every counter tandem keeps, declared here and nowhere else, each with its name and what it
// counts (as MetalLB's layer2/stats.go does). The daemon creates one set and hands each part
// its area's handles; a part built without them (a unit test, a one-shot command) counts into
// a set of its own. `tandem status --json` shows the whole registry under `counters`, and the
// names follow Prometheus so an exporter can publish that snapshot as it is.
import { CounterRegistry } from './counters.js';

export function createStats(registry = new CounterRegistry()) {
  return {
    registry,
    heartbeat: {
      sent: registry.counter({
        name: 'tandem_heartbeat_datagrams_sent_total',
        help: 'Heartbeat datagrams handed to the socket, by path (index into the heartbeat paths).',
        labels: ['path'],
      }),
      sendErrors: registry.counter({
        name: 'tandem_heartbeat_send_errors_total',
        help: 'Heartbeat datagrams the socket could not send, by path.',
        labels: ['path'],
      }),
      accepted: registry.counter({
        name: 'tandem_heartbeat_datagrams_accepted_total',
        help: 'Heartbeat datagrams received, authenticated and decoded, by path.',
        labels: ['path'],
      }),
      rejected: registry.counter({
        name: 'tandem_heartbeat_datagrams_rejected_total',
        help: 'Heartbeat datagrams dropped, by path and reason (bad-mac, replay, … as in packet.rejected).',
        labels: ['path', 'reason'],
      }),
    },
    announce: {
      framesSent: registry.counter({
        name: 'tandem_announce_frames_sent_total',
        help: 'Gratuitous ARP and unsolicited neighbour advertisement frames sent.',
      }),
      framesFailed: registry.counter({
        name: 'tandem_announce_frames_failed_total',
        help: 'Announcement frames the packet socket could not send (link down, device gone).',
      }),
    },
    health: {
      checksStarted: registry.counter({
        name: 'tandem_health_checks_started_total',
        help: 'Real-server health checks started.',
      }),
      checksCompleted: registry.counter({
        name: 'tandem_health_checks_completed_total',
        help: 'Health checks whose result was recorded, by outcome (pass, fail, inconclusive: the director could not check).',
        labels: ['outcome'],
      }),
      transitions: registry.counter({
        name: 'tandem_health_transitions_total',
        help: 'Real servers changing state (unknown, up, down), by from and to.',
        labels: ['from', 'to'],
      }),
    },
    ipvs: {
      reconciles: registry.counter({
        name: 'tandem_ipvs_reconciles_total',
        help: 'IPVS reconciles done, by reason (claim, release, reload, repair, retry, health).',
        labels: ['reason'],
      }),
      operations: registry.counter({
        name: 'tandem_ipvs_operations_total',
        help: 'IPVS operations applied or attempted, by kind (add-service, edit-destination, …).',
        labels: ['kind'],
      }),
      operationFailures: registry.counter({
        name: 'tandem_ipvs_operation_failures_total',
        help: 'IPVS operations the kernel refused, by kind (retried with the next reconcile).',
        labels: ['kind'],
      }),
      repairs: registry.counter({
        name: 'tandem_ipvs_repairs_total',
        help: "Repairs or retries that found the IPVS table changed behind tandem's back and put it back.",
      }),
    },
    role: {
      transitions: registry.counter({
        name: 'tandem_role_transitions_total',
        help: 'Role changes of this node, by from, to and reason (as in role.change).',
        labels: ['from', 'to', 'reason'],
      }),
    },
    address: {
      added: registry.counter({
        name: 'tandem_address_added_total',
        help: 'Managed addresses (VIPs, the NAT gateway) added to this host.',
      }),
      removed: registry.counter({
        name: 'tandem_address_removed_total',
        help: 'Managed addresses removed from this host, by why (released, misplaced).',
        labels: ['why'],
      }),
      failed: registry.counter({
        name: 'tandem_address_failures_total',
        help: 'Managed addresses that could not be placed, added or removed, by operation (place, add, remove).',
        labels: ['operation'],
      }),
    },
    hooks: {
      run: registry.counter({
        name: 'tandem_hook_runs_total',
        help: 'Hooks run, by hook (active, inactive, notify).',
        labels: ['hook'],
      }),
      failed: registry.counter({
        name: 'tandem_hook_failures_total',
        help: 'Hooks that could not start, exited non-zero, were killed or timed out, by hook.',
        labels: ['hook'],
      }),
      timedOut: registry.counter({
        name: 'tandem_hook_timeouts_total',
        help: 'Hooks stopped at hooks.timeout, by hook (also counted as failures).',
        labels: ['hook'],
      }),
    },
    config: {
      reloads: registry.counter({
        name: 'tandem_config_reloads_total',
        help: 'Configuration reloads (SIGHUP, tandem reload), by result (ok, refused).',
        labels: ['result'],
      }),
    },
    control: {
      refused: registry.counter({
        name: 'tandem_control_refused_total',
        help: 'Control socket connections refused, by reason (bad-request, forbidden: not root; busy: too many open; idle: no request in time).',
        labels: ['reason'],
      }),
    },
    log: {
      dropped: registry.counter({
        name: 'tandem_log_lines_dropped_total',
        help: 'Log lines dropped because stdout (the journal) did not take them fast enough and 4 MiB were waiting.',
      }),
    },
    timer: {
      late: registry.counter({
        name: 'tandem_timer_late_total',
        help: "Times this node's own timer fired later than warntime (event loop blocked, CPU starved).",
      }),
    },
  };
}

export type Stats = ReturnType<typeof createStats>;
/** A secure channel's datagrams per path: the heartbeat's (connection sync will declare its own). */
export type ChannelStats = Stats['heartbeat'];
export type AnnounceStats = Stats['announce'];
export type HealthStats = Stats['health'];
export type IpvsStats = Stats['ipvs'];
export type AddressStats = Stats['address'];
export type HookStats = Stats['hooks'];
export type TimerStats = Stats['timer'];
export type ControlStats = Stats['control'];
