import { readFile } from 'node:fs/promises';
import { DirectorPair } from '../test/support/director-pair.js';
async function sample(pid: number) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { u: Number(f[11]), s: Number(f[12]), rss: (Number(f[21]) * 4) / 1024 };
}
for (const flags of (process.env.VARIANTS ?? '').split('|')) {
  process.env.EXTRA_NODE_FLAGS = flags;
  const pair = await DirectorPair.create({ keepalive: '10ms', deadtime: '30ms' });
  try {
    await pair.startBoth({ prefix: ['/tmp/hv/node-flags.sh'] });
    await new Promise((r) => setTimeout(r, 4000));
    const pids = pair.nodes.map((n) => n.process!.pid!);
    const a = await Promise.all(pids.map(sample));
    const rss: number[] = [];
    for (let i = 0; i < 15; i++) { await new Promise((r) => setTimeout(r, 1000)); for (const p of pids) rss.push((await sample(p)).rss); }
    const b = await Promise.all(pids.map(sample));
    console.log(`[${flags}] cpu% user/sys per node:`, b.map((x, i) => `${((x.u - a[i]!.u) / 15).toFixed(1)}/${((x.s - a[i]!.s) / 15).toFixed(1)}`).join(' '), 'rss mean', (rss.reduce((x, y) => x + y) / rss.length).toFixed(1), 'max', Math.max(...rss).toFixed(1));
  } finally {
    await pair.destroy();
  }
}
