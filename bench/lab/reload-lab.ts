// Lab: a --realtime pair on CPU 1 with busy processes there, many reloads; per reload the
// heartbeats' lateness on the wire and (with --sample DIR) the daemons' threads sampled at ~1 ms.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DirectorPair, heartbeatPort } from '../../test/support/director-pair.js';
import { stopChild } from '../../test/support/netns.js';
import { formatSummary } from '../benchmark.js';

const { values } = parseArgs({
  options: {
    reloads: { type: 'string', default: '20' },
    hogs: { type: 'string', default: '2' },
    faketime: { type: 'boolean', default: false },
    sample: { type: 'string' },
    cpu: { type: 'string', default: '1' },
  },
});
const keepalive = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sampler = fileURLToPath(new URL('./sample-threads.py', import.meta.url));
const pair = await DirectorPair.create({ keepalive: `${keepalive}ms`, deadtime: '200ms' });
const hogs: ChildProcess[] = [];
try {
  const faketime = values.faketime
    ? [
        'env',
        'LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
        `FAKETIME_TIMESTAMP_FILE=${pair.dir}/clock`,
        'FAKETIME_CACHE_DURATION=1',
        'FAKETIME_DONT_FAKE_MONOTONIC=1',
      ]
    : [];
  if (values.faketime) await import('node:fs/promises').then((fs) => fs.writeFile(`${pair.dir}/clock`, '+0\n'));
  const prefix = [...faketime, 'taskset', '--cpu-list', values.cpu];
  await pair.startBoth({ prefix, args: ['--realtime'] });
  await pair.settled();
  const rss = () =>
    pair.nodes
      .map(
        (n) =>
          `${n.name} ${(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${n.process!.pid}/status`, 'utf8'))![1]) / 1024).toFixed(1)} MB`,
      )
      .join(', ');
  await sleep(3000);
  const rssBefore = rss();
  for (const node of pair.nodes)
    for (let i = 0; i < Number(values.hogs); i++)
      hogs.push(pair.lab.spawn(node.host, 'taskset', ['--cpu-list', values.cpu, 'sh', '-c', 'while :; do :; done']));
  const wire = await pair.lab.watch(
    pair.nodes[0].host,
    'tcpdump',
    ['-l', '-n', '-tt', '--immediate-mode', '-i', 'eth0', `udp port ${heartbeatPort}`],
    /listening on/,
  );
  await sleep(2000);
  if (values.sample) await mkdir(values.sample, { recursive: true });
  const windows: Array<[number, number]> = [];
  for (let i = 0; i < Number(values.reloads); i++) {
    const samplers = values.sample
      ? pair.nodes.map((node) =>
          spawn(
            'taskset',
            [
              '--cpu-list',
              '0',
              'chrt',
              '--fifo',
              '20',
              'python3',
              sampler,
              String(node.process!.pid),
              `${values.sample}/${i}-${node.name}.jsonl`,
            ],
            { stdio: ['pipe', 'inherit', 'inherit'] },
          ),
        )
      : [];
    await sleep(values.sample ? 300 : 0);
    const start = Date.now();
    const results = await Promise.all(pair.nodes.map((node) => pair.tandem(node, ['reload'])));
    const end = Date.now();
    await sleep(300);
    for (const s of samplers) s.stdin.end();
    windows.push([start, end]);
    if (results.some((r) => r.code !== 0)) console.log('reload failed', results);
    await sleep(700);
  }
  await wire.stop();
  const perSource = new Map<string, number[]>();
  const last = new Map<string, number>();
  const beats: Array<[string, number, number]> = [];
  for (const line of wire.lines) {
    const m = /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.\d+ > /.exec(line);
    if (!m) continue;
    const at = Number(m[1]) * 1000;
    const prev = last.get(m[2]!);
    last.set(m[2]!, at);
    if (prev !== undefined) beats.push([m[2]!, at, Math.max(0, at - prev - keepalive)]);
  }
  for (const [start, end] of windows) {
    for (const node of pair.nodes) {
      const late = beats.filter(([src, at]) => src === node.publicAddress && at >= start && at <= end + 200).map(([, , l]) => l);
      const key = node.name;
      perSource.set(key, [...(perSource.get(key) ?? []), Math.max(0, ...late)]);
    }
  }
  const worst = windows.map((_, i) => Math.max(...pair.nodes.map((n) => perSource.get(n.name)![i]!)));
  console.log(`reloads ${windows.length}, hogs ${Number(values.hogs) * 2} on CPU ${values.cpu}, faketime ${values.faketime}`);
  for (const [name, l] of perSource) console.log(`  ${formatSummary(`${name} worst heartbeat lateness per reload`, l)}`);
  console.log(`  ${formatSummary('worst of both per reload', worst)}`);
  console.log(`  per reload: ${worst.map((w) => w.toFixed(0)).join(' ')}`);
  console.log(`  RSS idle after start: ${rssBefore}; after the reloads: ${rss()}`);
  const reloadMs = pair.nodes.flatMap((n) => n.logs.items.filter((e) => e.event === 'config.reload').map((e) => Number(e.durationMs)));
  console.log(`  ${formatSummary('reload duration', reloadMs)}`);
} finally {
  await Promise.all(hogs.map((h) => stopChild(h)));
  await pair.destroy();
}
