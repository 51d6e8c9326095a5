// The Prometheus view of the daemon, built at scrape time from what status and the logs
// already read: every counter of the CounterRegistry as it is, gauges from the daemon's
// status, the runtime histograms, and prom-client's process metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { roles } from '../cluster/index.js';
import type { DaemonStatus } from '../control/index.js';
import type { ServiceList } from '../ipvs/index.js';
import type { CounterRegistry, CounterSnapshot } from '../lib/counters.js';
import { JsonRows } from '../lib/json-chunks.js';
import { TimeSlice } from '../lib/time-slice.js';
import type { SyncKindStatus } from '../sync/index.js';

/** What the gauges show: the daemon's status, its IPVS services read into the series of
 *  each real server (the services of a big table come once, as they are read). */
export interface MetricsView {
  status: DaemonStatus<ServiceList>;
  realServers: RealServerSeries[];
}

interface RealServerSeries {
  service: string;
  server: string;
  up: boolean;
  weight: number;
}

/** What one scrape reads: the view (possibly cached) and the counters as they are now. */
interface Scrape extends MetricsView {
  counters: Map<string, CounterSnapshot>;
}

export interface CollectorSources {
  counters: CounterRegistry;
  view: () => Promise<MetricsView>;
}

/** Seconds; the heartbeat interval is 100 ms by default, so the interesting range is 1 ms to 2 s. */
const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

export class MetricsCollector {
  readonly registry = new Registry();
  private scrape: Scrape | undefined;
  readonly timerLateness = new Histogram({
    name: 'tandem_heartbeat_timer_lateness_seconds',
    help: "How late this node's heartbeat timer fired, each keepalive.",
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly eventLoopDelay = new Histogram({
    name: 'tandem_event_loop_delay_seconds',
    help: 'The longest event-loop block in each keepalive interval (sampled every 10 ms).',
    buckets: latencyBuckets,
    registers: [this.registry],
  });

  /** For the daemon's RuntimeMetrics (it measures in ms). */
  readonly runtimeObserver = {
    timerLateness: (ms: number) => this.timerLateness.observe(ms / 1000),
    eventLoopDelay: (ms: number) => this.eventLoopDelay.observe(ms / 1000),
  };

  constructor(private readonly sources: CollectorSources) {
    for (const counter of sources.counters.snapshot()) this.exportCounter(counter);
    this.declareGauges();
    collectDefaultMetrics({ register: this.registry, prefix: 'tandem_' });
  }

  /** The text exposition of every metric. */
  async metrics(): Promise<string> {
    const view = await this.sources.view();
    const counters = new Map(this.sources.counters.snapshot().map((counter) => [counter.name, counter]));
    this.scrape = { ...view, counters };
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A CounterRegistry counter under its own name, its series copied at each scrape. */
  private exportCounter({ name, help, labelNames }: CounterSnapshot): void {
    const read = () => this.scrape?.counters.get(name)?.values ?? [];
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, value } of read()) this.inc(labels, value);
      },
    });
  }

  private gauge(
    name: string,
    help: string,
    labelNames: string[],
    set: (gauge: Gauge, status: DaemonStatus<ServiceList>, realServers: RealServerSeries[]) => void,
  ): void {
    const scrape = () => this.scrape;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const current = scrape();
        if (current) set(this, current.status, current.realServers);
      },
    });
  }

  private declareGauges(): void {
    this.gauge('tandem_role', 'The role of this node: 1 for the role it is in, 0 for the others.', ['role'], (gauge, s) => {
      for (const role of roles) gauge.set({ role }, s.role === role ? 1 : 0);
    });
    this.gauge('tandem_term', 'The election term this node is in.', [], (gauge, s) => gauge.set(s.term));
    this.gauge('tandem_peer_alive', 'Whether the peer is heard within deadtime (absent without a peer).', [], (gauge, s) => {
      if (s.peer) gauge.set(s.peer.alive ? 1 : 0);
    });
    this.gauge('tandem_peer_last_heard_seconds', 'Seconds since a heartbeat of the peer was last accepted.', [], (gauge, s) => {
      if (s.peer?.lastHeardMsAgo !== undefined) gauge.set(s.peer.lastHeardMsAgo / 1000);
    });
    this.gauge('tandem_heartbeat_path_up', 'Whether the peer is heard on each heartbeat path.', ['path'], (gauge, s) => {
      for (const path of s.peer?.paths ?? []) gauge.set({ path: path.index }, path.up ? 1 : 0);
    });
    this.gauge('tandem_addresses_held', 'Managed addresses (VIPs, the NAT gateway) this node holds.', [], (gauge, s) =>
      gauge.set(s.host.addresses.length),
    );
    this.gauge('tandem_ipvs_available', 'Whether this node can program IPVS (absent when nothing needs it).', [], (gauge, s) => {
      const state = s.ipvs?.ipvs.state;
      if (state !== undefined && state !== 'unused') gauge.set(state === 'available' ? 1 : 0);
    });
    const perKind = (name: string, help: string, value: (kind: SyncKindStatus) => number | undefined) =>
      this.gauge(name, help, ['kind'], (gauge, s) => {
        for (const kind of s.sync?.kinds ?? []) {
          const v = value(kind);
          if (v !== undefined) gauge.set({ kind: kind.kind }, v);
        }
      });
    perKind('tandem_sync_synced', 'Whether connection sync of each kind is synced (receiving: caught up; sending: the peer is).', (k) =>
      k.synced ? 1 : 0,
    );
    perKind('tandem_sync_entries_warm', "Entries of the peer's table this node holds, by kind.", (k) => k.entriesWarm);
    perKind(
      'tandem_sync_lag',
      'Messages not yet applied (receiving) or not yet acknowledged and waiting (sending), by kind.',
      (k) => k.lag,
    );
    perKind('tandem_sync_last_message_seconds', "Seconds since the peer's last sync message of each kind.", (k) =>
      k.lastMessageAgeMs === undefined ? undefined : k.lastMessageAgeMs / 1000,
    );
    perKind('tandem_sync_last_commit_entries', 'Entries the last takeover wrote into the kernel, by kind.', (k) => k.lastCommit?.entries);
    perKind('tandem_sync_last_commit_seconds', 'How long the last takeover took to write them, by kind.', (k) =>
      k.lastCommit === undefined ? undefined : k.lastCommit.durationMs / 1000,
    );
    this.gauge(
      'tandem_real_server_up',
      'Whether each real server is in service, by service and server.',
      ['service', 'server'],
      (gauge, _, realServers) => {
        for (const { service, server, up } of realServers) gauge.set({ service, server }, up ? 1 : 0);
      },
    );
    this.gauge(
      'tandem_real_server_weight',
      'The weight health gives each real server now (less during slow start, 0 when down).',
      ['service', 'server'],
      (gauge, _, realServers) => {
        for (const { service, server, weight } of realServers) gauge.set({ service, server }, weight);
      },
    );
  }
}

/** The status as the gauges show it: the configured real servers of its IPVS table, in it
 *  or absent from it, in place of the services; the balancer thread's rows read a slice at a time. */
export async function metricsView(status: DaemonStatus<ServiceList>): Promise<MetricsView> {
  if (!status.ipvs?.services) return { status, realServers: [] };
  const { services, ...ipvs } = status.ipvs;
  const realServers: RealServerSeries[] = [];
  const slice = new TimeSlice();
  for await (const batch of services instanceof JsonRows ? services.parsed() : [services]) {
    for (const { name, destinations, absent } of batch) {
      if (name === undefined) continue;
      for (const { health } of [...destinations, ...absent]) {
        if (health?.kind === 'real')
          realServers.push({ service: name, server: health.server, up: health.up, weight: health.effectiveWeight });
      }
    }
    if (slice.spent) await slice.next();
  }
  return { status: { ...status, ipvs }, realServers };
}
