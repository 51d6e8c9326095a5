// The exporter's text: every counter of the registry under its own name, the gauges from
// status, the runtime histograms and the process metrics; and the endpoint serving it.
import { describe, expect, it } from 'vitest';
import type { ElectionStatus } from '../../../src/cluster/index.js';
import type { DaemonStatus } from '../../../src/control/index.js';
import { daemonStatus } from '../../../src/daemon/status.js';
import type { BalancerStatus, ServiceList, ServiceStatus } from '../../../src/ipvs/index.js';
import { JsonRows } from '../../../src/lib/json-chunks.js';
import { createStats, type Stats } from '../../../src/lib/stats.js';
import { cachedStatus, MetricsCollector, MetricsServer, metricsView } from '../../../src/metrics/index.js';

const health = { canServe: true, monitorLinks: false, links: [], fault: '' };
const election: ElectionStatus = {
  role: 'ACTIVE',
  term: 7,
  since: 1000,
  health,
  peer: { name: 'ifw02', alive: true, role: 'BACKUP', term: 7, priority: 100, paths: [{ up: true, lastHeard: 4500, lastSeq: 3 }] },
};
const server = (name: string, up: boolean, effectiveWeight: number) => ({
  server: name,
  kind: 'real' as const,
  state: up ? ('up' as const) : ('down' as const),
  up,
  weight: 10,
  effectiveWeight,
});
const ipvs: BalancerStatus = {
  role: 'active',
  since: '2025-06-01T10:00:00.000Z',
  ipvs: { state: 'available', version: '1.2.1', connectionTableSize: 4096 },
  services: [
    {
      name: 'www',
      family: 4,
      protocol: 'tcp',
      address: '192.0.2.100',
      port: 80,
      fwmark: 0,
      scheduler: 'wlc',
      onePacket: false,
      schedulerFlags: 0,
      destinations: [
        {
          family: 4,
          address: '10.0.0.1',
          port: 80,
          forwarding: 'masq',
          weight: 10,
          upperThreshold: 0,
          lowerThreshold: 0,
          health: server('web1', true, 5),
        },
      ],
      absent: [{ address: '10.0.0.2', port: 80, family: 4, forwarding: 'masq', health: server('web2', false, 0) }],
    },
  ],
  sync: { enabled: false, role: 'none', syncId: 0, port: 8848, running: [] },
  health: { enabled: true, servers: 2, checked: 2, inFlight: 0, queued: 0, maxInFlight: 512, started: 4, completed: 4, inconclusive: 0 },
  failing: [],
  repairs: { count: 0 },
};

function statusOf(stats: Stats, balancer: BalancerStatus<ServiceList> = ipvs): DaemonStatus<ServiceList> {
  return daemonStatus({
    now: 5000,
    startedAt: 0,
    pid: 42,
    node: 'ifw01',
    version: '0.1.0',
    model: { cluster: 'lab', serialNo: 1, heartbeat: { port: 539, keepalive: 100, deadtime: 500, warntime: 250, initdead: 1000 } },
    election,
    paths: [{ local: '192.0.2.1', remote: '192.0.2.2' }],
    stats,
    transitions: [],
    runtime: {
      timerLateness: { lastMs: 1, maxMs: 2, overWarntime: 0 },
      eventLoopDelay: { p99Ms: 10, maxMs: 11 },
      gcPauses: { count: 0, totalMs: 0, maxMs: 0 },
    },
    host: {
      addresses: [{ address: '192.0.2.100', prefix: 24, device: 'eth0', purpose: 'vip www' }],
      failedAddresses: [],
      announcements: { framesSent: 5, framesFailed: 0 },
      hooks: { pending: 0 },
    },
    ipvs: balancer,
  });
}

function collectorWith(stats: Stats, balancer?: BalancerStatus<ServiceList>): MetricsCollector {
  return new MetricsCollector({ counters: stats.registry, view: () => metricsView(statusOf(stats, balancer)) });
}

const realServerLines = (text: string) => text.split('\n').filter((line) => line.startsWith('tandem_real_server_'));

describe('metrics collector', () => {
  it('exports every counter with its series, as counted at scrape time', async () => {
    const stats = createStats();
    const collector = collectorWith(stats);
    stats.heartbeat.rejected.add(3, { path: 0, reason: 'bad-mac' });
    stats.role.transitions.inc({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-dead' });
    const text = await collector.metrics();
    for (const { name } of stats.registry.snapshot()) expect(text).toContain(`# TYPE ${name} counter`);
    expect(text).toContain('tandem_heartbeat_datagrams_rejected_total{path="0",reason="bad-mac"} 3');
    expect(text).toContain('tandem_role_transitions_total{from="BACKUP",to="ACTIVE",reason="peer-dead"} 1');
    stats.heartbeat.rejected.inc({ path: 0, reason: 'bad-mac' });
    expect(await collector.metrics()).toContain('tandem_heartbeat_datagrams_rejected_total{path="0",reason="bad-mac"} 4');
  });

  it('exports the role one-hot and the gauges of status', async () => {
    const text = await collectorWith(createStats()).metrics();
    expect(text).toContain('tandem_role{role="ACTIVE"} 1');
    expect(text).toContain('tandem_role{role="BACKUP"} 0');
    expect(text).toContain('tandem_term 7');
    expect(text).toContain('tandem_peer_alive 1');
    expect(text).toContain('tandem_peer_last_heard_seconds 0.5');
    expect(text).toContain('tandem_heartbeat_path_up{path="0"} 1');
    expect(text).toContain('tandem_addresses_held 1');
    expect(text).toContain('tandem_ipvs_available 1');
    expect(text).toContain('tandem_real_server_up{service="www",server="web1"} 1');
    expect(text).toContain('tandem_real_server_up{service="www",server="web2"} 0');
    expect(text).toContain('tandem_real_server_weight{service="www",server="web1"} 5');
  });

  it("reads the real servers from the balancer thread's JSON rows as from objects, once for a cached view", async () => {
    const services = ipvs.services ?? [];
    // as the thread sends them: a slice at a time
    const rows = new JsonRows<ServiceStatus>(services.length, async function* () {
      yield '';
      await Promise.resolve(); // the next slice is a message of the thread's
      yield JSON.stringify(services).slice(1, -1);
    });
    const stats = createStats();
    const view = cachedStatus(() => metricsView(statusOf(stats, { ...ipvs, services: rows })), 1000);
    const collector = new MetricsCollector({ counters: stats.registry, view });
    const fromRows = realServerLines(await collector.metrics());
    expect(fromRows).toHaveLength(4);
    expect(fromRows).toEqual(realServerLines(await collectorWith(createStats()).metrics()));
    expect(realServerLines(await collector.metrics())).toEqual(fromRows);
  });

  it('observes timer lateness and event-loop delay into histograms', async () => {
    const collector = collectorWith(createStats());
    collector.runtimeObserver.timerLateness(3);
    collector.runtimeObserver.eventLoopDelay(20);
    const text = await collector.metrics();
    expect(text).toContain('tandem_heartbeat_timer_lateness_seconds_bucket{le="0.005"} 1');
    expect(text).toContain('tandem_event_loop_delay_seconds_bucket{le="0.025"} 1');
    expect(text).toContain('tandem_event_loop_delay_seconds_count 1');
  });
});

describe('status cache', () => {
  it('shares one status read among scrapes within the interval, and retries a failed one', async () => {
    let reads = 0;
    let clock = 0;
    const stats = createStats();
    let fail = true;
    const status = cachedStatus(
      () => {
        reads += 1;
        return fail ? Promise.reject(new Error('netlink busy')) : Promise.resolve(statusOf(stats));
      },
      1000,
      () => clock,
    );
    await expect(status()).rejects.toThrow('netlink busy');
    fail = false;
    await status();
    clock = 500;
    await status();
    expect(reads).toBe(2);
    clock = 1500;
    await status();
    expect(reads).toBe(3);
  });

  it('reads the status again once the role changed, however recent the last read', async () => {
    let reads = 0;
    let roleChanges = 0;
    const stats = createStats();
    const status = cachedStatus(
      () => {
        reads += 1;
        return Promise.resolve(statusOf(stats));
      },
      1000,
      () => 0,
      () => roleChanges,
    );
    await status();
    await status();
    roleChanges += 1;
    await status();
    expect(reads).toBe(2);
  });
});

describe('metrics endpoint', () => {
  it('serves GET /metrics and nothing else', async () => {
    const metrics = await MetricsServer.start({ host: '127.0.0.1', port: 0 }, collectorWith(createStats()));
    try {
      const base = `http://127.0.0.1:${metrics.address.port}`;
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(await response.text()).toContain('tandem_role{role="ACTIVE"} 1');
      expect((await fetch(`${base}/`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
    } finally {
      await metrics.close();
    }
  });
});
