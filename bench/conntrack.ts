// conntrack through ctnetlink in ct- namespaces (test/lab/sync/ct-lab.ts), the compiled
// table (dist/) in an agent process per namespace: for 10,000 and 100,000 masqueraded TCP
// flows, commit (CT_NEW batches) and dump speed with the longest event-loop stall, the
// lag from a flow's creation in the kernel to its event's callback (p50/p99, flows
// created at full speed in batches of 64), and the memory 100,000 entries take held as
// objects and as encoded records. Then the same flows through conntrackd (FTFW over UDP
// between two namespaces): synced entries/s to the backup's external cache, a flow's lag
// from creation to that cache (polled with `conntrackd -s`), `conntrackd -c` commit time
// and the backup daemon's memory. The machine is shared: the figures are indicative.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../test/support/netns.js';
import { CtLab, type CtAgent } from '../test/lab/sync/ct-lab.js';
import type { Benchmark } from './benchmark.js';

interface Timed {
  ms: number;
  maxBlockedMs: number;
}

const rate = (count: number, ms: number) => `${Math.round(count / (ms / 1000)).toLocaleString('en')} entries/s`;
const stall = (timed: Timed) => `event loop blocked ≤ ${timed.maxBlockedMs.toFixed(0)} ms`;

async function flush(lab: CtLab, netns: string): Promise<void> {
  await lab.exec(netns, 'conntrack', ['-F']).catch(() => undefined);
}

async function tandemFigures(lab: CtLab, netns: string, agent: CtAgent): Promise<void> {
  for (const count of [10_000, 100_000]) {
    await flush(lab, netns);
    const commit = await agent.call<Timed & { written: number; failed: number; firstError?: string }>('synthesize', { count });
    if (commit.failed > 0) throw new Error(`commit of ${count}: ${commit.failed} failed (${commit.firstError ?? ''})`);
    const dump = await agent.call<Timed & { count: number }>('dumpCount');
    if (dump.count !== count) throw new Error(`dumped ${dump.count} of ${count} entries`);
    console.log(
      `${count.toLocaleString('en')} flows: commit ${(commit.ms / 1000).toFixed(2)} s (${rate(count, commit.ms)}, ${stall(commit)}); ` +
        `dump ${(dump.ms / 1000).toFixed(2)} s (${rate(count, dump.ms)}, ${stall(dump)})`,
    );
    if (count === 100_000) {
      const memory = await agent.call<{ count: number; objectsBytes: number; recordsBytes: number }>('heldMemory');
      const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
      console.log(
        `memory for 100,000 entries held: ${mb((memory.objectsBytes * 100_000) / memory.count)} as entry objects, ` +
          `${mb((memory.recordsBytes * 100_000) / memory.count)} as encoded records`,
      );
    }
  }
  await flush(lab, netns);
}

/** Flows created by one agent, their events watched by another (as on the active, where
 *  the kernel makes flows and tandem only watches): creation → callback, p50/p99. */
async function eventLag(lab: CtLab, netns: string, creator: CtAgent, watcher: CtAgent, pace: Pace): Promise<void> {
  await watcher.call('record');
  const sent = await creator.call<Array<[string, number]>>('createTimed', { ...pace });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { arrived, lost } = await watcher.call<{ arrived: Array<[string, number]>; lost: number }>('recorded');
  const arrivals = new Map(arrived);
  const lags = sent.flatMap(([key, at]) => {
    const arrival = arrivals.get(key);
    return arrival === undefined ? [] : [arrival - at];
  });
  const { median, p99, max } = quantiles(lags);
  console.log(
    `event lag, flow created in the kernel → watch callback (${pace.label}): ` +
      `p50 ${median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
      `${lags.length} of ${sent.length} seen${lost > 0 ? `, events lost ${lost} times` : ''}`,
  );
  await flush(lab, netns);
}

interface Pace {
  label: string;
  count: number;
  batch: number;
  pauseMs?: number;
}

const paces: Pace[] = [
  { label: '2,000 flows, 8 every 5 ms', count: 2_000, batch: 8, pauseMs: 5 },
  { label: '10,000 flows at full speed, 64 per batch', count: 10_000, batch: 64 },
];

function quantiles(samples: number[]): { median: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { median: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

function conntrackdConfig(dir: string, side: string, self: string, peer: string): string {
  return `Sync {
	Mode FTFW {
	}
	UDP {
		IPv4_address ${self}
		IPv4_Destination_Address ${peer}
		Port 3780
		Interface sync0
		SndSocketBuffer 24985600
		RcvSocketBuffer 24985600
		Checksum on
	}
}
General {
	HashSize 65536
	HashLimit 524288
	LogFile ${dir}/${side}.log
	Syslog off
	LockFile ${dir}/${side}.lock
	UNIX {
		Path ${dir}/${side}.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 16777216
}
`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`conntrackd: ${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

async function conntrackdFigures(): Promise<void> {
  try {
    await run('conntrackd', ['-v']);
  } catch {
    console.log('conntrackd: not installed (Debian package conntrackd, which .ci/bootstrap installs): no comparison');
    return;
  }
  const lab = new CtLab();
  const dir = await mkdtemp(join(tmpdir(), `ct-${lab.id}-`));
  try {
    const sw = await lab.addSwitch('brsync');
    const active = await lab.addNamespace('cda');
    const backup = await lab.addNamespace('cdb');
    await lab.connect(active, 'sync0', sw, ['192.168.77.1/24']);
    await lab.connect(backup, 'sync0', sw, ['192.168.77.2/24']);
    const activeConf = join(dir, 'a.conf');
    const backupConf = join(dir, 'b.conf');
    await writeFile(activeConf, conntrackdConfig(dir, 'a', '192.168.77.1', '192.168.77.2'));
    await writeFile(backupConf, conntrackdConfig(dir, 'b', '192.168.77.2', '192.168.77.1'));
    lab.spawn(active, 'conntrackd', ['-C', activeConf]);
    const backupDaemon = lab.spawn(backup, 'conntrackd', ['-C', backupConf]);
    await waitUntil(
      'both started',
      async () => (await readFile(join(dir, 'b.log'), 'utf8').catch(() => '')).includes('initialization completed'),
      10_000,
    );
    await waitUntil(
      'both started',
      async () => (await readFile(join(dir, 'a.log'), 'utf8').catch(() => '')).includes('initialization completed'),
      10_000,
    );
    const creator = await lab.agent(active, { built: true });
    const external = async () => {
      const { stdout } = await lab.exec(backup, 'conntrackd', ['-C', backupConf, '-s']);
      return Number(/cache external:\s*current active connections:\s*(\d+)/.exec(stdout)?.[1] ?? NaN);
    };
    const rss = async () => {
      const status = await readFile(`/proc/${backupDaemon.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    };
    const rssEmpty = await rss();
    for (const count of [10_000, 100_000]) {
      const started = performance.now();
      await creator.call('synthesize', { count });
      const created = performance.now();
      await waitUntil(`${count} entries synced`, async () => (await external()) >= count, 300_000);
      const synced = performance.now();
      await lab.exec(backup, 'conntrack', ['-F']).catch(() => undefined);
      const commitStarted = performance.now();
      await lab.exec(backup, 'conntrackd', ['-C', backupConf, '-c']);
      const committedMs = performance.now() - commitStarted;
      const inKernel = Number((await lab.exec(backup, 'conntrack', ['-C'])).stdout.trim());
      console.log(
        `conntrackd, ${count.toLocaleString('en')} flows: in the backup's external cache ${((synced - started) / 1000).toFixed(2)} s after ` +
          `creation began (${rate(count, synced - started)}; creating them took ${((created - started) / 1000).toFixed(2)} s); ` +
          `conntrackd -c ${(committedMs / 1000).toFixed(2)} s (${rate(count, committedMs)}; ${inKernel} in the backup's kernel after)`,
      );
      if (count === 100_000) {
        console.log(
          `conntrackd backup memory for 100,000 cached entries: ${(((await rss()) - rssEmpty) / 1e6).toFixed(1)} MB (RSS growth)`,
        );
      }
      await lab.exec(active, 'conntrack', ['-F']).catch(() => undefined);
      await lab.exec(backup, 'conntrack', ['-F']).catch(() => undefined);
      await waitUntil('the flush synced', async () => (await external()) === 0, 120_000);
    }
    // one flow at a time, the backup's cache polled (each poll runs conntrackd -s: a few ms)
    const lags: number[] = [];
    for (let i = 0; i < 30; i++) {
      const before = await external();
      const started = performance.now();
      await creator.call('synthesize', { count: 1 });
      await waitUntil('one flow synced', async () => (await external()) > before, 10_000);
      lags.push(performance.now() - started);
    }
    const { median, p99, max } = quantiles(lags);
    console.log(
      `conntrackd lag, flow created → in the backup's external cache (30 single flows, polled): ` +
        `p50 ${median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms (includes the poll's own process start)`,
    );
  } finally {
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

export const conntrackBenchmark: Benchmark = {
  name: 'conntrack',
  description: 'conntrack via ctnetlink: commit and dump of 10k/100k flows, event lag p50/p99, memory per 100k entries',
  async run() {
    const lab = new CtLab();
    try {
      const netns = await lab.addNamespace('bench');
      const agent = await lab.agent(netns, { built: true, nodeArgs: ['--expose-gc'] });
      const idle = await agent.call<Timed>('idle');
      console.log(`(shared machine: figures are indicative; an idle agent's event loop waited up to ${idle.maxBlockedMs.toFixed(0)} ms)`);
      await tandemFigures(lab, netns, agent);
      const watcher = await lab.agent(netns, { built: true });
      for (const pace of paces) await eventLag(lab, netns, agent, watcher, pace);
    } finally {
      await lab.destroy();
    }
    await conntrackdFigures();
  },
};
