// What an idle pair costs at 10 ms heartbeats (deadtime 30 ms, two paths, the
// lab's DirectorPair): each daemon's CPU (user + system, from /proc, as a share of
// one core) and its resident memory, sampled every second for IDLE_SECONDS
// (default 60) after a minute's warm-up (IDLE_WARM_UP_SECONDS), without and with
// `--realtime`. Issue 12 asks for at most 2 % of a core and 80 MB per node. First the floor (idle-floor.ts) in the same lab, under
// the same node flags: what a bare Node program doing only the heartbeat's I/O and
// HMACs costs on this machine now, so that tandem's figure reads beside it.
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { stopChild } from '../test/support/netns.js';
import { DirectorPair, nodeFlags, type Director } from '../test/support/director-pair.js';
import { formatSummary, type Benchmark } from './benchmark.js';
import { floorScript } from './idle-floor.js';

const seconds = Number(process.env.IDLE_SECONDS ?? 60);
const settleMs = 5000;
/**
 * At 300 events a second V8 takes about a minute to optimise the heartbeat path: a
 * daemon costs 8-10 % of a core in its first 10 s, about 5 % until 30 s. The idle
 * cost is what it costs after that, for as long as it runs.
 */
const warmUpMs = Number(process.env.IDLE_WARM_UP_SECONDS ?? 60) * 1000;
/** USER_HZ: /proc's clock ticks. */
const ticksPerSecond = 100;
const pageKiB = 4;

interface Sample {
  cpuTicks: number;
  rssMiB: number;
}

async function sample(pid: number): Promise<Sample> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may contain spaces), from field 3 (state) on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const rssMiB = (Number(fields[21]) * pageKiB) / 1024;
  return { cpuTicks, rssMiB };
}

async function measure(nodes: { name: string; pid: number }[]): Promise<void> {
  const pids = nodes.map((node) => node.pid);
  const first = await Promise.all(pids.map(sample));
  const rss: number[][] = nodes.map(() => []);
  const cpu: number[][] = nodes.map(() => []);
  let previous = first;
  for (let s = 0; s < seconds; s++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await Promise.all(pids.map(sample));
    now.forEach((x, i) => {
      rss[i]!.push(x.rssMiB);
      cpu[i]!.push(((x.cpuTicks - previous[i]!.cpuTicks) / ticksPerSecond) * 100);
    });
    previous = now;
  }
  nodes.forEach((node, i) => {
    const total = ((previous[i]!.cpuTicks - first[i]!.cpuTicks) / ticksPerSecond / seconds) * 100;
    console.log(`    ${node.name}: CPU ${total.toFixed(2)} % of a core over ${seconds} s`);
    console.log(`      ${formatSummary('CPU per second', cpu[i]!, ' %')}`);
    console.log(`      ${formatSummary('RSS', rss[i]!, ' MiB')}`);
  });
  console.log(
    `    load average: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
}

const running = (nodes: Director[]) => nodes.map((node) => ({ name: node.name, pid: node.process!.pid! }));

/** The floor program on both nodes of the pair, over both paths, measured as the daemons are. */
async function measureFloor(pair: DirectorPair): Promise<void> {
  const children = pair.nodes.map((node, i) => {
    const peer = pair.nodes[1 - i]!;
    const addresses = [node.publicAddress, peer.publicAddress, node.privateAddress, peer.privateAddress];
    return pair.lab.spawn(node.host, process.execPath, [...nodeFlags, '--input-type=module', '-e', floorScript, '10', ...addresses]);
  });
  try {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && resolve());
            child.once('exit', (code) => reject(new Error(`the floor program exited (${code})`)));
          }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    console.log('  floor (bare node: timer, sends, HMACs), 10ms, two paths:');
    await measure(pair.nodes.map((node, i) => ({ name: node.name, pid: children[i]!.pid! })));
  } finally {
    await Promise.all(children.map((child) => stopChild(child)));
  }
}

export const idleBenchmark: Benchmark = {
  name: 'idle',
  description: `CPU and memory of an idle pair at keepalive 10 ms / deadtime 30 ms (${seconds} s each after ${warmUpMs / 1000} s: the floor, without and with --realtime)`,
  async run(): Promise<void> {
    for (const realtime of [false, true]) {
      const pair = await DirectorPair.create({ keepalive: '10ms', deadtime: '30ms' });
      try {
        if (!realtime) await measureFloor(pair);
        await pair.startBoth({ args: realtime ? ['--realtime'] : [] });
        await new Promise((resolve) => setTimeout(resolve, warmUpMs));
        console.log(`  keepalive 10ms, deadtime 30ms${realtime ? ', --realtime' : ''}:`);
        await measure(running(pair.nodes));
      } finally {
        await pair.destroy();
      }
    }
  },
};
