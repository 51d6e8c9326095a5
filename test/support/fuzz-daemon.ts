// Fuzzing a running daemon (issue 12): hostile datagrams at the backup of a lab pair,
// spoofed as the active (so its connected socket takes them), and hostile clients at its
// control socket: malformed, huge, slow and many at once. Shared by the lab test and
// `npm run bench -- fuzz`; the caller judges the report.
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import type { CounterSnapshot } from '../../src/lib/counters.js';
import { DatagramFuzzer, fuzzKinds, type FuzzKind } from './fuzz-datagrams.js';
import { seededRandom } from './random.js';
import type { DaemonStatus } from '../../src/control/index.js';
import { heartbeatPort, type Director, type DirectorPair } from './director-pair.js';

export interface FuzzReport {
  sent: Record<FuzzKind, number>;
  /** Sends the attacker's kernel refused, by errno: these never left. */
  sendFailures: Record<string, number>;
  /** Heartbeat drops counted by the backup during the run, by reason. */
  rejected: Record<string, number>;
  /**
   * What the backup's kernel dropped before the daemon could read it, by cause; the
   * counters are the namespace's, so the active's genuine heartbeats lost there are in.
   */
  kernelDrops: Record<KernelDrop, number>;
  /** The active's heartbeats to the backup during the run (every path), and how many the backup accepted. */
  genuine: { sent: number; accepted: number };
  /** Hostile datagrams sent that none of the counts above holds: 0 when each is accounted for. */
  unaccounted: number;
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

export type KernelDrop = 'receive buffer full' | 'bad checksum' | 'other UDP errors' | 'IP reassembly failed';

const batchSize = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rss(node: Director): Promise<number> {
  const status = await readFile(`/proc/${node.process?.pid ?? 0}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** The kernel's drops in the node's namespace so far (ReasmFails counts failed reassemblies, not fragments). */
async function kernelDropsOf(pair: DirectorPair, node: Director): Promise<Record<KernelDrop, number>> {
  const snmp = await pair.lab.snmp(node.host);
  const buffer = snmp.UdpRcvbufErrors ?? 0;
  const checksum = snmp.UdpInCsumErrors ?? 0;
  return {
    'receive buffer full': buffer,
    'bad checksum': checksum,
    // InErrors counts the two above as well
    'other UDP errors': (snmp.UdpInErrors ?? 0) - buffer - checksum,
    'IP reassembly failed': snmp.IpReasmFails ?? 0,
  };
}

/** Bytes waiting in the receive queues of the node's heartbeat sockets (/proc/net/udp). */
async function heartbeatQueueBytes(pair: DirectorPair, node: Director): Promise<number> {
  const { stdout } = await pair.lab.exec(node.host, 'cat', ['/proc/net/udp']);
  const port = `:${heartbeatPort.toString(16).toUpperCase().padStart(4, '0')}`;
  return stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter(([, local]) => local?.endsWith(port))
    .reduce((sum, [, , , queues]) => sum + parseInt(queues?.split(':')[1] ?? '0', 16), 0);
}

/** Waits until the daemon has read every datagram the kernel queued for it, so that none is counted late. */
async function drained(pair: DirectorPair, node: Director, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; (await heartbeatQueueBytes(pair, node)) > 0; await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`${node.name} did not read its heartbeat sockets dry in ${timeoutMs} ms`);
  }
}

interface Tally {
  backup: DaemonStatus;
  /** Heartbeats the active handed to its sockets without an error, on every path. */
  genuineSent: number;
}

/**
 * The backup's status and the active's heartbeats sent at one moment: read again
 * until the active sent none between, so that none is in flight (the backup reads
 * a heartbeat queued on its socket before the status request that follows it).
 */
async function tally(pair: DirectorPair, active: Director, backup: Director): Promise<Tally> {
  const sent = (status: DaemonStatus) =>
    (counter(status.counters, 'tandem_heartbeat_datagrams_sent_total').all ?? 0) -
    (counter(status.counters, 'tandem_heartbeat_send_errors_total').all ?? 0);
  for (;;) {
    const first = sent(await pair.status(active));
    const backupStatus = await pair.status(backup);
    if (sent(await pair.status(active)) === first) return { backup: backupStatus, genuineSent: first };
  }
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
  const before = await tally(pair, active, backup);
  const kernelBefore = await kernelDropsOf(pair, backup);
  const rolesBefore = pair.roleChanges(active).length + pair.roleChanges(backup).length;
  const rssBefore = await rss(backup);
  let rssPeak = rssBefore;
  const sent = Object.fromEntries(fuzzKinds.map((kind) => [kind, 0])) as Record<FuzzKind, number>;
  const sendFailures: Record<string, number> = {};
  const spoofer = await pair.spoofer(active, backup);
  try {
    for (let done = 0; done < count;) {
      const batch: Buffer[] = [];
      for (; batch.length < Math.min(batchSize, count - done);) {
        const { kind, datagram } = fuzzer.next();
        sent[kind] += 1;
        batch.push(datagram);
      }
      for (const [errno, n] of Object.entries(await spoofer.send(batch))) sendFailures[errno] = (sendFailures[errno] ?? 0) + n;
      done += batch.length;
      // paced, so that the kernel's buffer rarely overflows and the daemon counts nearly all
      await sleep(5);
      if (done % (50 * batchSize) === 0) rssPeak = Math.max(rssPeak, await rss(backup));
    }
  } finally {
    await spoofer.stop();
  }
  const controlClients = await hostileControlClients(backup.socket, seed);
  await drained(pair, backup);
  const after = await tally(pair, active, backup);
  const kernelAfter = await kernelDropsOf(pair, backup);
  const rssAfter = await rss(backup);
  const since = (name: string, label?: string) =>
    difference(counter(after.backup.counters, name, label), counter(before.backup.counters, name, label));
  const rejected = since('tandem_heartbeat_datagrams_rejected_total', 'reason');
  const kernelDrops = Object.fromEntries(
    Object.entries(kernelAfter).map(([cause, n]) => [cause, n - kernelBefore[cause as KernelDrop]]),
  ) as Record<KernelDrop, number>;
  const accepted = since('tandem_heartbeat_datagrams_accepted_total').all ?? 0;
  const genuineSent = after.genuineSent - before.genuineSent;
  // Whatever reached the backup was dropped by its kernel, or rejected or accepted by the
  // daemon; among the drops are the active's heartbeats that the daemon did not accept.
  const arrivedHostile = total(rejected) + total(kernelDrops) - (genuineSent - accepted);
  return {
    sent,
    sendFailures,
    rejected,
    kernelDrops,
    genuine: { sent: genuineSent, accepted },
    unaccounted: count - total(sendFailures) - arrivedHostile,
    controlRefused: since('tandem_control_refused_total', 'reason'),
    controlClients,
    roleChanges: pair.roleChanges(active).length + pair.roleChanges(backup).length - rolesBefore,
    rssBefore,
    rssAfter,
    rssPeak: Math.max(rssPeak, rssAfter),
    alive: [active, backup].every((node) => node.process?.exitCode === null && node.process.signalCode === null),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The sum of the counts of a record (by reason, cause or errno). */
export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((total, n) => total + n, 0);
}
