// The monitor on a director namespace checking real servers in their own namespaces over
// a bridge: a stopped service is refused, a pulled cable and an absent host time out, a
// restarted service comes back after reentry. Timing bounds: interval + timeout (+ margin).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, requireRoot, stopChild, type Host } from '../../support/netns.js';
import { healthCheck, modelOf, realServer, virtualService } from '../../support/models.js';

const INTERVAL = 500;
const TIMEOUT = 1000;
const REENTRY = 2000;
/** Scheduling and process start-up on a shared 2-core machine. */
const MARGIN = 1000;

type LogLine = Record<string, unknown> & { event?: string; time: number };

/** Collects the driver's JSON log lines; waits for one that matches. */
class LogWatch {
  readonly lines: LogLine[] = [];
  private waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
    });
  }
  /** The first line from index `since` on (default: from now on) that matches. */
  next(match: (l: LogLine) => boolean, timeoutMs: number, what: string, since = this.lines.length): Promise<LogLine> {
    const seen = this.lines.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }
}

const transition = (server: string, to: string) => (l: LogLine) => l.event === 'health.change' && l.server === server && l.to === to;

describe('health monitor against real servers in namespaces', () => {
  let lab: Lab;
  let director: Host;
  let rs1: Host;
  let rs2: Host;
  let web1: ChildProcess;
  let monitor: ChildProcess | undefined;
  let log: LogWatch;
  let tmp: string;

  const serveHttp = (host: Host, address: string) =>
    lab.spawn(host, process.execPath, [
      '-e',
      `require('node:http').createServer((q, s) => s.end('lab ' + q.url)).listen(80, '${address}', () => console.log('listening'))`,
    ]);
  const listening = (child: ChildProcess) => new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create();
    const sw = await lab.addSwitch('br0');
    director = await lab.addHost('dir');
    rs1 = await lab.addHost('rs1');
    rs2 = await lab.addHost('rs2');
    await lab.connect(director, 'eth0', sw, ['198.51.100.1/24']);
    await lab.connect(rs1, 'eth0', sw, ['198.51.100.10/24']);
    await lab.connect(rs2, 'eth0', sw, ['198.51.100.11/24']);
    web1 = serveHttp(rs1, '198.51.100.10');
    const web2 = serveHttp(rs2, '198.51.100.11');
    await Promise.all([listening(web1), listening(web2)]);

    const check = healthCheck({
      kind: 'send-expect',
      send: 'GET / HTTP/1.0\r\n\r\n',
      expect: 'HTTP/1.1 200',
      interval: INTERVAL,
      timeout: TIMEOUT,
      reentry: REENTRY,
      failures: 1,
    });
    const model = modelOf([
      virtualService(
        'http_server',
        [
          realServer('198.51.100.10', 0, { name: 'rs1' }),
          realServer('198.51.100.11', 0, { name: 'rs2' }),
          realServer('198.51.100.99', 0, { name: 'absent' }),
        ],
        {
          vip: { address: '203.0.113.10', family: 4, prefix: 32 },
          healthCheck: check,
        },
      ),
    ]);
    tmp = mkdtempSync(join(tmpdir(), 'tandem-health-'));
    writeFileSync(join(tmp, 'model.json'), JSON.stringify(model));
    monitor = lab.spawn(director, process.execPath, ['--import', 'tsx', 'test/lab/health/monitor-driver.ts', join(tmp, 'model.json')]);
    log = new LogWatch(monitor);
  });

  afterAll(async () => {
    if (monitor) await stopChild(monitor);
    await (lab as Lab | undefined)?.destroy(); // unset after a failed setup
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('finds the live servers up and the absent host down by timeout', async () => {
    const startup = 5000; // node + tsx start inside the namespace
    const [up1, up2, absent] = await Promise.all([
      log.next(transition('rs1', 'up'), startup + INTERVAL + MARGIN, 'rs1 up', 0),
      log.next(transition('rs2', 'up'), startup + INTERVAL + MARGIN, 'rs2 up', 0),
      log.next(transition('absent', 'down'), startup + INTERVAL + TIMEOUT + MARGIN, 'absent down', 0),
    ]);
    expect(up1).toMatchObject({ from: 'unknown', reason: 'first-check', target: '198.51.100.10:80' });
    expect(up2).toMatchObject({ from: 'unknown', reason: 'first-check' });
    expect(absent).toMatchObject({
      level: 40,
      from: 'unknown',
      reason: 'timeout',
      detail: `no connection within ${TIMEOUT} ms`,
      target: '198.51.100.99:80',
    });
    const change = await log.next((l) => l.event === 'driver.changes', MARGIN, 'change event', 0);
    expect(change.changes).toEqual([
      expect.objectContaining({ server: 'absent', up: false, weight: 0, previous: { up: true, weight: 1 } }),
    ]);
  });

  it('a stopped service is taken out as refused within interval + timeout', async () => {
    const since = log.lines.length;
    const stoppedAt = Date.now();
    await stopChild(web1);
    const down = await log.next(transition('rs1', 'down'), INTERVAL + TIMEOUT + MARGIN, 'rs1 down', since);
    expect(down).toMatchObject({ reason: 'refused', detail: 'connection refused', from: 'up' });
    expect(down.time - stoppedAt).toBeLessThan(INTERVAL + TIMEOUT + MARGIN);
  });

  it('a pulled cable is taken out as a timeout within interval + timeout', async () => {
    const since = log.lines.length;
    const pulledAt = Date.now();
    await lab.setCable(rs2, 'eth0', false);
    const down = await log.next(transition('rs2', 'down'), INTERVAL + TIMEOUT + MARGIN, 'rs2 down', since);
    expect(down).toMatchObject({ reason: 'timeout', from: 'up' });
    expect(down.time - pulledAt).toBeLessThan(INTERVAL + TIMEOUT + MARGIN);
  });

  it('a restarted service comes back only after passing checks for reentry', async () => {
    const since = log.lines.length;
    web1 = serveHttp(rs1, '198.51.100.10');
    await listening(web1);
    const restartedAt = Date.now();
    const up = await log.next(transition('rs1', 'up'), INTERVAL + REENTRY + INTERVAL + MARGIN, 'rs1 back up', since);
    expect(up).toMatchObject({ from: 'down', reason: 'reentry' });
    expect(up.passedForMs).toBeGreaterThanOrEqual(REENTRY);
    expect(up.time - restartedAt).toBeGreaterThanOrEqual(REENTRY);
    // each change carries its whole virtual service, so match on the server that changed
    const changedServers = (l: LogLine) => (Array.isArray(l.changes) ? l.changes.map((c: { server?: string }) => c.server) : []);
    const change = await log.next((l) => l.event === 'driver.changes' && changedServers(l).includes('rs1'), MARGIN, 'change event', since);
    expect(change.changes).toEqual([expect.objectContaining({ server: 'rs1', up: true, weight: 1 })]);
    // rs2 stays out while its cable is pulled, absent stays out
    expect(
      log.lines.filter(
        (l) => l.event === 'health.change' && (l.server === 'rs2' || l.server === 'absent') && l.to === 'up' && l.from === 'down',
      ),
    ).toEqual([]);
  });
});
