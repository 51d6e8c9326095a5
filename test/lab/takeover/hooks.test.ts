// Hooks end to end through the daemon: a burst of 20 failovers while one hook
// sleeps 5 s. Every hook runs, in transition order, with the right roles, and
// neither daemon sent a heartbeat late meanwhile (timestamped by tcpdump as each
// datagram leaves its sender: on this shared machine the receiving side also sees
// the kernel's own delivery delays, which no daemon can help).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControlRequest } from '../../../src/control/index.js';
import { requireRoot } from '../../support/netns.js';
import { heartbeatPort, type Director } from '../../support/director-pair.js';
import { TakeoverLab } from '../../support/takeover-lab.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function hooksConfig(dir: string): string {
  const line = (kind: string) =>
    `echo "$TANDEM_TRANSITION ${kind} $TANDEM_PREVIOUS_ROLE $TANDEM_ROLE $TANDEM_REASON $TANDEM_ADDRESSES" >> ${dir}/hooks-$TANDEM_NODE.log`;
  return `hooks:
  active_cmd: 'if rm ${dir}/sleep-once 2>/dev/null; then sleep 5; fi; ${line('active')}'
  inactive_cmd: '${line('inactive')}'
  notify: '${line('notify')}'
  timeout: 10s
`;
}

interface HookLine {
  transition: number;
  kind: string;
  from: string;
  to: string;
  reason: string;
  addresses: string;
}

async function hookLines(dir: string, node: Director): Promise<HookLine[]> {
  const text = await readFile(join(dir, `hooks-${node.name}.log`), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [transition, kind, from, to, reason, ...addresses] = l.split(' ');
      return { transition: Number(transition), kind: kind!, from: from!, to: to!, reason: reason!, addresses: addresses.join(' ') };
    });
}

describe('hooks through the daemon', () => {
  let lab: TakeoverLab;
  let dir: string;

  beforeAll(async () => {
    requireRoot();
    dir = await mkdtemp(join(tmpdir(), 'tandem-hooks-'));
    lab = await TakeoverLab.create({ keepalive: '50ms', deadtime: '200ms', extraConfig: hooksConfig(dir) });
    // Real-time scheduling (as deploy/systemd runs it) keeps the other processes of
    // this shared machine from delaying heartbeats; hooks run with normal scheduling.
    await lab.pair.startBoth({ args: ['--realtime'] });
    await lab.settled();
  });

  afterAll(async () => {
    await (lab as TakeoverLab | undefined)?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('20 transitions while a hook sleeps 5 s: all hooks in order, no heartbeat late', async () => {
    const [a, b] = lab.nodes;
    const wires = await Promise.all(
      lab.nodes.map((node) =>
        lab.pair.lab.watch(
          node.host,
          'tcpdump',
          ['-l', '-n', '-tt', '--immediate-mode', '-Q', 'out', '-i', 'eth0', `udp dst port ${heartbeatPort}`],
          /listening on/,
        ),
      ),
    );
    const logsFrom = [a.logs.items.length, b.logs.items.length];
    await writeFile(join(dir, 'sleep-once'), '');
    const burstStarted = Date.now();
    for (let moved = 0; moved < 20;) {
      const [active] = await lab.pair.settled();
      const outcome = await sendControlRequest(active.socket, { command: 'failover' });
      if ('ok' in outcome && outcome.ok) moved += 1;
      else await sleep(20);
    }
    const burstMs = Date.now() - burstStarted;

    // every transition's notify hook has run on both nodes
    for (const node of lab.nodes) {
      const transitions = lab.pair.roleChanges(node).length;
      const deadline = Date.now() + 30_000;
      while ((await hookLines(dir, node)).filter((l) => l.kind === 'notify').length < transitions) {
        if (Date.now() > deadline)
          throw new Error(
            `${node.name}: hooks of ${transitions} transitions did not all run: ${JSON.stringify(await hookLines(dir, node))}`,
          );
        await sleep(100);
      }
    }

    const sleeper = [...a.logs.items, ...b.logs.items].find(
      (e) => e.event === 'hook.exit' && e.hook === 'active' && Number(e.durationMs) >= 5000,
    );
    expect(sleeper, 'one active_cmd slept 5 s').toBeDefined();
    // the burst did not wait for it
    expect(burstMs).toBeLessThan(5000);

    for (const node of lab.nodes) {
      const lines = await hookLines(dir, node);
      const changes = lab.pair.roleChanges(node);
      expect(changes.length).toBeGreaterThanOrEqual(21);
      // one transition after another, each one's hooks before the next one's
      expect(lines.map((l) => l.transition)).toEqual([...lines.map((l) => l.transition)].sort((x, y) => x - y));
      const notified = lines.filter((l) => l.kind === 'notify');
      expect(notified.map((l) => l.transition)).toEqual(changes.map((_, i) => i + 1));
      // the roles each hook saw are the logged transitions, in order
      expect(notified.map((l) => `${l.from}>${l.to} ${l.reason}`)).toEqual(
        changes.map((c) => `${String(c.from).toLowerCase()}>${String(c.to).toLowerCase()} ${String(c.reason)}`),
      );
      for (const l of lines.filter((l) => l.kind !== 'notify')) {
        expect(l.kind).toBe(l.to === 'active' ? 'active' : 'inactive');
        const own = lines.filter((x) => x.transition === l.transition).map((x) => x.kind);
        expect(own).toEqual([l.kind, 'notify']);
      }
      expect(notified[0]!.addresses).toBe('192.0.2.100/24 198.51.100.254/24');
    }

    await Promise.all(wires.map((wire) => wire.stop()));
    const during = [...a.logs.items.slice(logsFrom[0]), ...b.logs.items.slice(logsFrom[1])];
    expect(during.filter((e) => e.event === 'timer.late')).toEqual([]);
    // keepalive 50 ms: a heartbeat (or an earlier one on a state change) left at most warntime (100 ms) after the one before
    const gaps = wires.map((wire) => {
      const sent = wire.lines.flatMap((l) => /^(\d+\.\d+) IP /.exec(l)?.[1] ?? []).map((t) => Number(t) * 1000);
      expect(sent.length).toBeGreaterThan(100);
      return Math.max(...sent.slice(1).map((t, i) => t - sent[i]!));
    });
    const received = during.filter((e) => e.event === 'heartbeat.late');
    console.log(
      `longest time between heartbeats sent: ${gaps.map((g) => g.toFixed(1)).join(' ms, ')} ms; late on arrival: ${received.length}`,
    );
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(100);
  });
});
