// Reloading the configuration of running daemons (SIGHUP and `tandem reload`):
// the host follows the new file in the current role, the role never changes, and
// a bad file changes nothing.
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import type { Director, LogEvent } from '../../support/director-pair.js';
import { natGateway, TakeoverLab, vip } from '../../support/takeover-lab.js';
import { threadScheduling } from '../../support/thread-scheduling.js';

const secondVip = '192.0.2.101';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const secondService = `  - name: web
    vip: { address: ${secondVip}/24, device: eth0, label: "eth0:2" }
    protocol: tcp
    port: 80
    health_check: { kind: none }
    real_servers: [{ name: ics01, address: 198.51.100.10 }]
`;

describe('reload (keepalive 50ms, deadtime 200ms)', () => {
  let lab: TakeoverLab;
  let active: Director;
  let backup: Director;
  let original: string;

  beforeEach(async () => {
    requireRoot();
    lab = await TakeoverLab.create({
      keepalive: '50ms',
      deadtime: '200ms',
      extraConfig: 'announce: { count: 2, interval: 50ms, refresh: 100ms }\n',
    });
    await lab.pair.startBoth();
    [active, backup] = await lab.settled();
    original = await readFile(active.config, 'utf8');
  });

  afterEach(async () => {
    await (lab as TakeoverLab | undefined)?.destroy();
  });

  /** Writes the same new configuration for both nodes. */
  const rewrite = (edit: (text: string) => string) => Promise.all(lab.nodes.map((node) => writeFile(node.config, edit(original))));
  const reloadEvent = (node: Director, after: number): Promise<LogEvent> =>
    node.logs.waitFor((e) => e.event === 'config.reload' && e.time >= after, 10_000);

  it('SIGHUP applies a new VIP, timers, serial and hooks in the current role, without a role change', async () => {
    const changesBefore = lab.nodes.map((node) => lab.pair.roleChanges(node).length);
    const capture = await lab.captureArp(lab.client);
    const notified = join(lab.pair.dir, 'notified');
    await rewrite((text) =>
      `${text}hooks: { notify: 'echo "$TANDEM_NODE $TANDEM_ROLE" >> ${notified}' }\n`
        .replace('serial_no: 1', 'serial_no: 2')
        .replace('keepalive: 50ms', 'keepalive: 40ms')
        .replace(
          'real_servers: [{ name: ics01, address: 198.51.100.10 }]',
          `real_servers: [{ name: ics01, address: 198.51.100.10 }]\n${secondService}`,
        ),
    );
    const sentAt = Date.now();
    for (const node of lab.nodes) node.process!.kill('SIGHUP');
    const [activeReload, backupReload] = await Promise.all([reloadEvent(active, sentAt), reloadEvent(backup, sentAt)]);
    const expected = [
      'serial_no: 1 -> 2',
      'heartbeat.keepalive: 50ms -> 40ms',
      `addresses: +${secondVip}/24 (eth0:2)`,
      'virtual_services: +web',
      `hooks.notify: none -> echo "$TANDEM_NODE $TANDEM_ROLE" >> ${notified}`,
    ];
    expect(activeReload).toMatchObject({ ok: true, changes: expected, serialNo: 2 });
    expect(backupReload).toMatchObject({ ok: true, changes: expected, serialNo: 2 });

    expect(await lab.addresses(active)).toContainEqual({ address: secondVip, prefix: 24, device: 'eth0', label: 'eth0:2' });
    expect((await lab.addresses(backup)).map((a) => a.address)).not.toContain(secondVip);
    const activeMac = await lab.mac(active);
    await capture.waitFor((l) => l.includes(`Reply ${secondVip} is-at ${activeMac}`));

    await sleep(200);
    const status = await lab.pair.status(active);
    expect(status).toMatchObject({
      role: 'ACTIVE',
      timers: { keepalive: 40 },
      config: { serialNo: 2, peerSerialNo: 2, serialMismatch: false },
    });
    expect(status.host.addresses.map((a) => `${a.address} ${a.purpose}`)).toEqual([
      `${vip} vip echo`,
      `${secondVip} vip web`,
      `${natGateway} nat gateway`,
    ]);
    expect(lab.nodes.map((node) => lab.pair.roleChanges(node).length)).toEqual(changesBefore);

    // the new hook runs on the next transition
    expect((await lab.pair.tandem(active, ['failover'])).code).toBe(0);
    await expect
      .poll(() => readFile(notified, 'utf8').catch(() => ''), { timeout: 5000 })
      .toMatch(new RegExp(`${active.name} backup\n|${backup.name} active\n`));
  });

  it('tandem reload removes a VIP: gone from the host and no longer announced', async () => {
    const capture = await lab.captureArp(lab.client);
    const activeMac = await lab.mac(active);
    await capture.waitFor((l) => l.includes(`Reply ${vip} is-at ${activeMac}`));
    await rewrite((text) => text.replace(/ {2}- name: echo\n( {4}.*\n)+/, '').replace('virtual_services:\n', 'virtual_services: []\n'));
    const result = await lab.pair.tandem(active, ['reload']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^reload: done: 2 change\\(s\\) applied \\[serial 1, \\d+ ms\\]\\n  addresses: -${vip.replaceAll('.', '\\.')}/24 \\(eth0:1\\)\\n  virtual_services: -echo\\n$`,
      ),
    );
    const reloadedAt = Date.now();
    expect((await lab.managed(active)).map((a) => a.address)).toEqual([natGateway]);
    await sleep(500);
    // announced every 100 ms until the reload, never after it (tcpdump prints the time of day, UTC here)
    const timeOfDay = (line: string) => Date.parse(`1970-01-01T${line.slice(0, 15)}Z`);
    const announced = capture.lines.filter((l) => l.includes(`Reply ${vip} is-at`)).map(timeOfDay);
    expect(announced.length).toBeGreaterThan(0);
    expect(announced.filter((at) => at >= reloadedAt % 86_400_000)).toEqual([]);
    expect((await lab.pair.status(active)).role).toBe('ACTIVE');
  });

  it('a bad file is refused with its errors, and nothing changes', async () => {
    await rewrite((text) => text.replace('keepalive: 50ms', 'keepalive: banana').replace('serial_no: 1', 'serial_no: 3'));
    const result = await lab.pair.tandem(active, ['reload']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${active.config.replaceAll('.', '\\.')}:\\d+:\\d+: error: heartbeat\\.keepalive: `, 'm'));
    expect(result.stdout).toMatch(/^reload: refused \(invalid-config\): the configuration has 1 error\(s\); nothing changed \[serial 1,/);
    expect(active.logs.items.find((e) => e.event === 'config.reload')).toMatchObject({ ok: false, code: 'invalid-config' });
    const status = await lab.pair.status(active);
    expect(status).toMatchObject({ role: 'ACTIVE', timers: { keepalive: 50 }, config: { serialNo: 1 } });
    expect((await lab.managed(active)).map((a) => a.address)).toEqual([vip, natGateway]);

    await rewrite((text) => text.replace('port: 539', 'port: 540'));
    const moved = await lab.pair.tandem(active, ['reload', '--json']);
    expect(moved.code).toBe(1);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      ok: false,
      code: 'restart-needed',
      message: expect.stringContaining('heartbeat.port: 539 -> 540') as unknown,
    });
  });

  it('monitor_links switched off by a reload: a cable pulled on the active no longer moves the role', async () => {
    await rewrite((text) => `${text}monitor_links: { enabled: false }\n`);
    const result = await lab.pair.tandem(active, ['reload', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      changes: ['monitor_links: {"enabled":true,"interfaces":[]} -> {"enabled":false,"interfaces":[]}'],
    });
    expect((await lab.pair.status(active)).host.links).toBeUndefined();
    await lab.pair.lab.setSwitchPort(active.host, 'eth1', false);
    await sleep(1000);
    expect((await lab.pair.status(active)).role).toBe('ACTIVE');
  });
});

describe('reload under --realtime', () => {
  let lab: TakeoverLab | undefined;

  afterEach(async () => {
    await lab?.destroy();
  });

  it("runs the loader at nice -20 below the real-time event loop, never real-time: a long load would use up the CPU's real-time share", async () => {
    requireRoot();
    lab = await TakeoverLab.create({ keepalive: '50ms', deadtime: '200ms' });
    await lab.pair.startBoth({ args: ['--realtime'] });
    const [active] = await lab.settled();
    const pid = active.process!.pid!;
    const earlier = new Set(readdirSync(`/proc/${pid}/task`));
    const seen = new Set<string>();
    const reloaded = lab.pair.tandem(active, ['reload']);
    const finished = reloaded.then(() => true);
    // the loader lives for some hundreds of milliseconds: sampled every millisecond
    for (let done = false; !done; done = await Promise.race([finished, sleep(1).then(() => false)]))
      for (const tid of readdirSync(`/proc/${pid}/task`)) if (!earlier.has(tid)) seen.add(threadScheduling(tid, pid));
    const result = await reloaded;
    expect(result.code, result.stderr).toBe(0);
    expect(threadScheduling(String(pid), pid)).toBe('rr 10');
    expect(seen).toContain('nice -20');
    expect([...seen].filter((rank) => rank.startsWith('rr'))).toEqual([]);
  });
});
