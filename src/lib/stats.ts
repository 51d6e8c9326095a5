// Every counter tandem keeps, declared here and nowhere else, each with its name and what it
// counts (as MetalLB's layer2/stats.go does). The daemon creates one set and hands each part
// its area's handles; a part built without them (a unit test, a one-shot command) counts into
// a set of its own. `tandem status --json` shows the whole registry under `counters`, and the
// names follow Prometheus so an exporter can publish that snapshot as it is.
import { CounterRegistry } from './counters.js';

export function createStats(registry = new CounterRegistry()) {
  return {
    registry,
    heartbeat: channelCounters(registry, 'heartbeat'),
    sync: {
      channel: channelCounters(registry, 'sync'),
      recordsSent: registry.counter({
        name: 'tandem_sync_records_sent_total',
        help: 'Entries sent to the peer (changes and bulk resyncs, resends not counted), by kind (conntrack, ipvs).',
        labels: ['kind'],
      }),
      recordsReceived: registry.counter({
        name: 'tandem_sync_records_received_total',
        help: "Entries of the peer's stream applied to the cache, by kind.",
        labels: ['kind'],
      }),
      recordsRejected: registry.counter({
        name: 'tandem_sync_records_rejected_total',
        help: 'Entries in authentic datagrams that their table could not decode, dropped, by kind.',
        labels: ['kind'],
      }),
      resends: registry.counter({
        name: 'tandem_sync_resends_total',
        help: 'Data messages sent again because the peer NACKed them, by kind.',
        labels: ['kind'],
      }),
      nacks: registry.counter({
        name: 'tandem_sync_nacks_total',
        help: 'NACKs of missing messages, by kind and direction (sent: by this backup, received: by this active).',
        labels: ['kind', 'direction'],
      }),
      resyncs: registry.counter({
        name: 'tandem_sync_resyncs_total',
        help: 'Bulk resyncs started by this active, by kind and reason (became-active, peer-request, nack-unavailable, events-lost, backlog-full).',
        labels: ['kind', 'reason'],
      }),
      cacheDropped: registry.counter({
        name: 'tandem_sync_cache_dropped_total',
        help: "Entries the backup's cache refused because it was full (sync.cache-full), by kind.",
        labels: ['kind'],
      }),
      expired: registry.counter({
        name: 'tandem_sync_expired_total',
        help: "Cached entries that reached their own timeout, or that a bulk resync's end dropped (why: timeout, stale), by kind.",
        labels: ['kind', 'why'],
      }),
      commits: registry.counter({
        name: 'tandem_sync_commits_total',
        help: 'Writes of synced entries into the local kernel (on takeover, or write-through), by kind and result (ok, failed).',
        labels: ['kind', 'result'],
      }),
      committedEntries: registry.counter({
        name: 'tandem_sync_committed_entries_total',
        help: 'Entries written into the local kernel, by kind and result (written, failed).',
        labels: ['kind', 'result'],
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
      plannerCrashes: registry.counter({
        name: 'tandem_ipvs_planner_crashes_total',
        help: "The IPVS table planner's thread stopping unasked (its table is planned on the event loop until it is started again).",
      }),
      balancerCrashes: registry.counter({
        name: 'tandem_ipvs_balancer_thread_crashes_total',
        help: "The balancer's thread (big tables) stopping unasked; it is started again with the model and role it had.",
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
    conntrack: {
      events: registry.counter({
        name: 'tandem_conntrack_events_total',
        help: 'Conntrack events read from the kernel, by type (new, update, destroy), before the filter.',
        labels: ['type'],
      }),
      filtered: registry.counter({
        name: 'tandem_conntrack_entries_filtered_total',
        help: "Conntrack entries of dumps and events the sync filter left out (the directors' own traffic, …).",
      }),
      undecodable: registry.counter({
        name: 'tandem_conntrack_messages_undecodable_total',
        help: 'Ctnetlink messages from the kernel that could not be decoded (skipped).',
      }),
      overruns: registry.counter({
        name: 'tandem_conntrack_event_overruns_total',
        help: 'Times the conntrack event socket overflowed (ENOBUFS): events were lost and the peer needs a full resync.',
      }),
      dumps: registry.counter({
        name: 'tandem_conntrack_dumps_total',
        help: "Conntrack dumps for a resync, by kernel (walked: the kernel walked its hash table; skipped-empty: this namespace's table was empty, nothing was walked).",
        labels: ['kernel'],
      }),
      committed: registry.counter({
        name: 'tandem_conntrack_committed_total',
        help: 'Conntrack entries written into the kernel by commits, by result (created, updated, failed).',
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

/** A secure channel's datagrams per path, for the heartbeats and for connection sync. */
function channelCounters(registry: CounterRegistry, area: 'heartbeat' | 'sync') {
  const what = area === 'heartbeat' ? 'Heartbeat' : 'Sync';
  return {
    sent: registry.counter({
      name: `tandem_${area}_datagrams_sent_total`,
      help: `${what} datagrams handed to the socket, by path (index into the ${area} paths).`,
      labels: ['path'],
    }),
    sendErrors: registry.counter({
      name: `tandem_${area}_send_errors_total`,
      help: `${what} datagrams the socket could not send, by path.`,
      labels: ['path'],
    }),
    receiveErrors: registry.counter({
      name: `tandem_${area}_receive_errors_total`,
      help: `${what} datagrams accepted whose handling failed on an internal error (a bug: logged as channel.receive-error), by path.`,
      labels: ['path'],
    }),
    accepted: registry.counter({
      name: `tandem_${area}_datagrams_accepted_total`,
      help: `${what} datagrams received, authenticated and decoded, by path.`,
      labels: ['path'],
    }),
    rejected: registry.counter({
      name: `tandem_${area}_datagrams_rejected_total`,
      help: `${what} datagrams dropped, by path and reason (bad-mac, replay, … as in packet.rejected).`,
      labels: ['path', 'reason'],
    }),
  };
}

export type Stats = ReturnType<typeof createStats>;
export type ChannelStats = Stats['heartbeat'];
export type SyncStats = Stats['sync'];
export type AnnounceStats = Stats['announce'];
export type HealthStats = Stats['health'];
export type IpvsStats = Stats['ipvs'];
export type AddressStats = Stats['address'];
export type HookStats = Stats['hooks'];
export type TimerStats = Stats['timer'];
export type ConntrackStats = Stats['conntrack'];
export type ControlStats = Stats['control'];
