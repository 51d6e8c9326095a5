// How hard a flood of forged heartbeats may hit a backup before it misses genuine
// ones (issue 12). Two parts (FLOOD_PARTS, default both):
//  - cost: in this process, what the receive checks cost per datagram, by kind of
//    junk: a copy of an accepted heartbeat with one MAC byte changed (dropped
//    before the MAC as a replay), a forgery with a fresh sequence number (it costs
//    an HMAC), a replayed authentic one, an unknown key id, and a genuine one;
//  - lab: two real `tandem run` in the lab pair at keepalive 10 ms, deadtime 30 ms,
//    `--realtime` (the timers the issue measured), with one heartbeat path and with
//    two. An attacker on the public switch floods the backup, spoofed as the active
//    (its address and port, so the connected socket takes it), for FLOOD_SECONDS
//    (default 10) at each rate of FLOOD_RATES (datagrams/s), with FLOOD_KINDS of
//    forgery (`copy`, `fresh`). Per rate: the rate reached, genuine heartbeats
//    the backup missed per path (sent by the active, not accepted by the backup),
//    the kernel's receive-buffer drops in the backup's namespace, how the backup
//    counted the flood, and whether it declared the active dead or claimed. The
//    ladder of a configuration stops after two rates at which the active was
//    declared dead.
import { randomBytes } from 'node:crypto';
import { ChannelEndpoint } from '../src/cluster/endpoint.js';
import { messageKinds, openDatagram, sealDatagram } from '../src/cluster/envelope.js';
import { encodeHeartbeat } from '../src/cluster/heartbeat.js';
import { Keyring, loadKeyring } from '../src/cluster/keys.js';
import { ChannelSessions } from '../src/cluster/replay.js';
import type { DaemonStatus } from '../src/control/index.js';
import { DirectorPair, heartbeatPort, type Director } from '../test/support/director-pair.js';
import type { Benchmark } from './benchmark.js';

const parts = new Set((process.env.FLOOD_PARTS ?? 'cost,lab').split(','));
const rates = (process.env.FLOOD_RATES ?? '5000,10000,20000,40000,60000,80000,100000,150000,200000').split(',').map(Number);
const seconds = Number(process.env.FLOOD_SECONDS ?? 10);
const kinds = (process.env.FLOOD_KINDS ?? 'copy,fresh').split(',') as ForgeryKind[];
const pathCounts = (process.env.FLOOD_PATHS ?? '1,2').split(',').map(Number) as (1 | 2)[];

type ForgeryKind = 'copy' | 'fresh';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- cost ----

function costPerDatagram(): void {
  const keyring = new Keyring(new Map([[1, randomBytes(32)]]), 1);
  const endpoint = (self: string, peer: string) =>
    new ChannelEndpoint({ cluster: 'lab', self, peer }, messageKinds.heartbeat, keyring, new ChannelSessions());
  const sender = endpoint('ifw01', 'ifw02');
  const receiver = endpoint('ifw02', 'ifw01');
  const payload = encodeHeartbeat({
    role: 'ACTIVE',
    priority: 100,
    term: 3,
    serialNo: 1,
    health: { canServe: true, monitorLinks: true, links: [{ name: 'eth0', up: true }], fault: '' },
    peerView: [{ path: 0, heard: true, lastSeq: 12345, silentMs: 3 }],
    timers: { keepaliveMs: 10, deadtimeMs: 30 },
    stateVersion: 4,
    peerStateVersion: 2,
    claimedTerm: 3,
  });
  const genuine = sender.seal(payload).datagram;
  receiver.open(genuine);
  const n = 200_000;
  const fresh = Array.from({ length: n + 1 }, () => sender.seal(payload).datagram);
  const unknownKey = Buffer.from(genuine);
  unknownKey.writeUInt32BE(9, 4);
  const copy = breakMac(genuine);
  const forgedFresh = breakMac(fresh[0]!);
  const cases: [string, (i: number) => Buffer][] = [
    ['copy of an accepted heartbeat, one MAC byte changed', () => copy],
    ['forgery with a fresh sequence number', () => forgedFresh],
    ['replay of an accepted authentic heartbeat', () => genuine],
    ['unknown key id', () => unknownKey],
    ['genuine, fresh sequence number', (i) => fresh[i + 1]!],
  ];
  console.log(`receive checks per datagram (ChannelEndpoint.open, ${n} each, this process):`);
  for (const [label, datagram] of cases) {
    const started = process.cpuUsage();
    let outcome = '';
    for (let i = 0; i < n; i++) {
      const result = receiver.open(datagram(i));
      if (i === 0) outcome = result.ok ? 'accepted' : result.reason;
    }
    const used = process.cpuUsage(started);
    console.log(`  ${label}: ${((used.user + used.system) / n).toFixed(2)} µs CPU (${outcome})`);
  }
}

function breakMac(datagram: Buffer): Buffer {
  const forged = Buffer.from(datagram);
  forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
  return forged;
}

// ---- lab ----

/** Sends one datagram at a steady rate for a while, as another host (IP_TRANSPARENT); prints how many it sent. */
const flooderScript = `
import socket, sys, time
source, port, target, rate, seconds, datagram = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), bytes.fromhex(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
s.bind((source, port))
start = time.monotonic()
sent = failed = 0
while True:
    elapsed = time.monotonic() - start
    if elapsed >= seconds:
        break
    while sent + failed < elapsed * rate:
        try:
            s.sendto(datagram, (target, port))
            sent += 1
        except OSError:
            failed += 1
    time.sleep(0.0002)
print(sent, time.monotonic() - start, flush=True)
`;

/** A genuine heartbeat of the active to the backup, taken off the wire, made into a forgery of the kind. */
async function forgery(pair: DirectorPair, active: Director, backup: Director, kind: ForgeryKind): Promise<Buffer> {
  const [genuine] = await pair.captureHeartbeats(active, backup, 1);
  if (!genuine) throw new Error('no heartbeat captured');
  let forged: Buffer = genuine;
  if (kind === 'fresh') {
    const opened = openDatagram(await loadKeyring(pair.keyFile, 1), genuine);
    if (!opened.ok) throw new Error(`the captured heartbeat does not open: ${opened.reason}`);
    // Under the same key id, with another key: a bad MAC on a sequence number never seen.
    forged = sealDatagram(new Keyring(new Map([[1, randomBytes(32)]]), 1), { ...opened.envelope, seq: opened.envelope.seq + 1e9 });
  }
  return breakMac(forged);
}

interface Step {
  rate: number;
  reached: number;
  missed: number[];
  sent: number[];
  bufferDrops: number;
  rejected: Record<string, number>;
  declaredDead: boolean;
  roleChanges: number;
  lateLogs: number;
}

async function floodOnce(pair: DirectorPair, active: Director, backup: Director, datagram: Buffer, rate: number): Promise<Step> {
  const status = () => Promise.all([pair.status(active), pair.status(backup)]);
  const [activeBefore, backupBefore] = await status();
  const kernelBefore = await pair.lab.snmp(backup.host);
  const logsFrom = backup.logs.items.length;
  const changesBefore = pair.roleChanges(active).length + pair.roleChanges(backup).length;
  const { stdout } = await pair.lab.exec(pair.outsider, 'python3', [
    '-c',
    flooderScript,
    active.publicAddress,
    String(heartbeatPort),
    backup.publicAddress,
    String(rate),
    String(seconds),
    datagram.toString('hex'),
  ]);
  await sleep(100);
  const [activeAfter, backupAfter] = await status();
  const kernelAfter = await pair.lab.snmp(backup.host);
  const [sentCount, elapsed] = stdout.trim().split(/\s+/).map(Number);
  const sentOn = (s: DaemonStatus, path: number) => s.peer?.paths[path]?.sent ?? 0;
  const acceptedOn = (s: DaemonStatus, path: number) => s.peer?.paths[path]?.accepted ?? 0;
  const paths = activeAfter.peer?.paths.map((_, path) => path) ?? [];
  const sent = paths.map((path) => sentOn(activeAfter, path) - sentOn(activeBefore, path));
  const missed = paths.map((path, i) => Math.max(0, sent[i]! - (acceptedOn(backupAfter, path) - acceptedOn(backupBefore, path))));
  const during = backup.logs.items.slice(logsFrom);
  const rejected = Object.fromEntries(
    Object.entries(backupAfter.packets.rejected)
      .map(([reason, n]) => [reason, n - backupBefore.packets.rejected[reason as keyof typeof backupBefore.packets.rejected]])
      .filter(([, n]) => Number(n) > 0),
  ) as Record<string, number>;
  return {
    rate,
    reached: Math.round((sentCount ?? 0) / (elapsed ?? seconds)),
    missed,
    sent,
    bufferDrops: (kernelAfter.UdpRcvbufErrors ?? 0) - (kernelBefore.UdpRcvbufErrors ?? 0),
    rejected,
    declaredDead: during.some((e) => e.event === 'peer.dead'),
    roleChanges: pair.roleChanges(active).length + pair.roleChanges(backup).length - changesBefore,
    lateLogs: during.filter((e) => e.event === 'heartbeat.late').length,
  };
}

async function floodLadder(paths: 1 | 2, kind: ForgeryKind): Promise<void> {
  const pair = await DirectorPair.create({ keepalive: '10ms', deadtime: '30ms', paths });
  try {
    await pair.startBoth({ args: ['--realtime'] });
    let [active, backup] = await pair.settled();
    const datagram = await forgery(pair, active, backup, kind);
    console.log(`${paths} path(s), forgery: ${kind} (keepalive 10ms, deadtime 30ms, --realtime; ${seconds} s per rate, on path 0):`);
    let deadRates = 0;
    let firstMissed: number | undefined;
    let firstDead: number | undefined;
    for (const rate of rates) {
      const step = await floodOnce(pair, active, backup, datagram, rate);
      const missed = step.missed.map((n, path) => `path ${path} ${n}/${step.sent[path]}`).join(', ');
      console.log(
        `  ${rate}/s (reached ${step.reached}/s): genuine missed ${missed}; receive-buffer drops ${step.bufferDrops}; ` +
          `counted ${JSON.stringify(step.rejected)}; heartbeat.late ${step.lateLogs}; ` +
          `${step.declaredDead ? 'ACTIVE DECLARED DEAD' : 'active alive'}, ${step.roleChanges} role changes`,
      );
      // A few in flight at either end of the window are not losses.
      if (firstMissed === undefined && step.missed.some((n) => n > 2)) firstMissed = step.reached;
      if (step.declaredDead) {
        firstDead ??= step.reached;
        deadRates += 1;
      }
      if (deadRates >= 2) break;
      if (step.roleChanges > 0) [active, backup] = await pair.settled();
      await sleep(1000);
    }
    console.log(
      `  heartbeats first missed at ${firstMissed ?? 'none up to the highest rate'}${firstMissed ? '/s' : ''}; ` +
        `active first declared dead at ${firstDead ?? 'none up to the highest rate'}${firstDead ? '/s' : ''}`,
    );
  } finally {
    await pair.destroy();
  }
}

export const floodBenchmark: Benchmark = {
  name: 'flood',
  description:
    'forged heartbeats flooding the backup: receive cost per datagram, and the flood rate at which genuine heartbeats are missed',
  async run(): Promise<void> {
    if (parts.has('cost')) costPerDatagram();
    if (!parts.has('lab')) return;
    for (const paths of pathCounts) for (const kind of kinds) await floodLadder(paths, kind);
  },
};
