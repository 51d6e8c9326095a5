// Fuzzing a running daemon (issue 12): hostile datagrams at the backup of a lab pair,
// spoofed as the active (so its connected socket takes them), and hostile clients at its
// control socket: malformed, huge, slow and many at once. Shared by the lab test and
// `npm run bench -- fuzz`; the caller judges the report.
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import type { CounterSnapshot } from '../../src/lib/counters.js';
import { DatagramFuzzer, fuzzKinds, type FuzzKind } from './fuzz-datagrams.js';
import { seededRandom } from './random.js';
import type { Director, DirectorPair } from './director-pair.js';

export interface FuzzReport {
  sent: Record<FuzzKind, number>;
  /** Heartbeat drops counted by the backup during the run, by reason. */
  rejected: Record<string, number>;
  /** The kernel's receive-buffer drops in the backup's namespace (never reached the daemon). */
  kernelDrops: number;
  /** Heartbeat datagrams the backup accepted meanwhile: the active's genuine ones. */
  accepted: number;
  controlRefused: Record<string, number>;
  /** Hostile control clients by kind, and how many were answered or closed. */
  controlClients: Record<string, number>;
  roleChanges: number;
  /** VmRSS of the backup's daemon in KiB. */
  rssBefore: number;
  rssAfter: number;
  rssPeak: number;
  alive: boolean;
  seconds: number;
}

const batchSize = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rss(node: Director): Promise<number> {
  const status = await readFile(`/proc/${node.process?.pid ?? 0}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function udpReceiveBufferErrors(pair: DirectorPair, node: Director): Promise<number> {
  const { stdout } = await pair.lab.exec(node.host, 'cat', ['/proc/net/snmp']);
  const [names, values] = stdout.split('\n').filter((line) => line.startsWith('Udp:'));
  const index = names?.split(/\s+/).indexOf('RcvbufErrors') ?? -1;
  return Number(values?.split(/\s+/)[index] ?? 0);
}

function counter(snapshot: CounterSnapshot[] | undefined, name: string, label?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { labels, value } of snapshot?.find((c) => c.name === name)?.values ?? []) {
    const key = label ? (labels[label] ?? '') : 'all';
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) if (value !== (before[key] ?? 0)) out[key] = value - (before[key] ?? 0);
  return out;
}

/** Clients that misbehave on the control socket; resolves when each was answered or closed. */
async function hostileControlClients(path: string, seed: number): Promise<Record<string, number>> {
  const random = seededRandom(seed);
  const client = (send: (socket: Socket) => void) =>
    new Promise<'answered' | 'closed'>((resolve) => {
      const socket = connect(path);
      let answered = false;
      socket.on('data', () => (answered = true));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(answered ? 'answered' : 'closed'));
      socket.on('connect', () => send(socket));
    });
  const junk = (length: number) => Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
  const outcomes: Record<string, number> = {};
  const tally = async (kind: string, runs: Promise<'answered' | 'closed'>[]) => {
    for (const outcome of await Promise.all(runs)) outcomes[`${kind} ${outcome}`] = (outcomes[`${kind} ${outcome}`] ?? 0) + 1;
  };
  await tally(
    'malformed',
    Array.from({ length: 50 }, () => client((s) => s.end(Buffer.concat([junk(1 + Math.floor(random() * 200)), Buffer.from('\n')])))),
  );
  await tally('huge', [client((s) => s.end(junk(1 << 20)))]);
  await tally('slow', [
    client((s) => {
      const timer = setInterval(() => s.write('{'), 100);
      s.on('close', () => clearInterval(timer));
    }),
  ]);
  // more at once than the daemon keeps open; they send nothing and are closed at the idle timeout
  await tally(
    'many',
    Array.from({ length: 64 }, () => client(() => undefined)),
  );
  return outcomes;
}

/** Sends `count` hostile datagrams at the backup and runs the hostile control clients; the pair must be settled. */
export async function fuzzDaemon(pair: DirectorPair, count: number, seed: number): Promise<FuzzReport> {
  const [active, backup] = await pair.settled();
  const started = performance.now();
  const genuine = await pair.captureHeartbeats(active, backup, 16);
  const fuzzer = new DatagramFuzzer(genuine, { cluster: 'lab', sender: active.name, keyId: 1 }, seed);
  const before = await pair.status(backup);
  const kernelBefore = await udpReceiveBufferErrors(pair, backup);
  const rolesBefore = pair.roleChanges(active).length + pair.roleChanges(backup).length;
  const rssBefore = await rss(backup);
  let rssPeak = rssBefore;
  const sent = Object.fromEntries(fuzzKinds.map((kind) => [kind, 0])) as Record<FuzzKind, number>;
  const spoofer = await pair.spoofer(active, backup);
  try {
    for (let done = 0; done < count;) {
      const batch: Buffer[] = [];
      for (; batch.length < Math.min(batchSize, count - done);) {
        const { kind, datagram } = fuzzer.next();
        sent[kind] += 1;
        batch.push(datagram);
      }
      await spoofer.send(batch);
      done += batch.length;
      // paced, so that the kernel's buffer rarely overflows and the daemon counts nearly all
      await sleep(5);
      if (done % (50 * batchSize) === 0) rssPeak = Math.max(rssPeak, await rss(backup));
    }
  } finally {
    await spoofer.stop();
  }
  const controlClients = await hostileControlClients(backup.socket, seed);
  await sleep(200);
  const after = await pair.status(backup);
  const rssAfter = await rss(backup);
  const name = 'tandem_heartbeat_datagrams_rejected_total';
  return {
    sent,
    rejected: difference(counter(after.counters, name, 'reason'), counter(before.counters, name, 'reason')),
    kernelDrops: (await udpReceiveBufferErrors(pair, backup)) - kernelBefore,
    accepted:
      (counter(after.counters, 'tandem_heartbeat_datagrams_accepted_total').all ?? 0) -
      (counter(before.counters, 'tandem_heartbeat_datagrams_accepted_total').all ?? 0),
    controlRefused: difference(
      counter(after.counters, 'tandem_control_refused_total', 'reason'),
      counter(before.counters, 'tandem_control_refused_total', 'reason'),
    ),
    controlClients,
    roleChanges: pair.roleChanges(active).length + pair.roleChanges(backup).length - rolesBefore,
    rssBefore,
    rssAfter,
    rssPeak: Math.max(rssPeak, rssAfter),
    alive: [active, backup].every((node) => node.process?.exitCode === null && node.process.signalCode === null),
    seconds: (performance.now() - started) / 1000,
  };
}
