// A UDP prober for the lab and the demo: sends a numbered datagram to ADDRESS:PORT
// every INTERVAL ms and prints a line per reply, `reply SEQ SENT_AT RTT_MS
// RESPONDER` (SENT_AT in ms since the epoch, to the tenth). The gap between two answered
// probes is how long the VIP did not answer. With --report-lost MS it also prints
// `lost SEQ SENT_AT` for a probe unanswered after MS, so a reader can tell a lost probe
// from one never sent while this process was starved of CPU. With --count it stops
// after that many probes and a last wait for their replies; otherwise it runs until
// SIGTERM, waits for the replies to the probes still on their way, and prints `sent N`.
//   node --import tsx deploy/lab/probe.ts ADDRESS PORT [--interval MS] [--count N] [--wait MS] [--report-lost MS]
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    interval: { type: 'string', default: '10' },
    count: { type: 'string' },
    wait: { type: 'string', default: '1000' },
    'report-lost': { type: 'string' },
  },
});
const [address, port] = positionals;
if (!address || !port) {
  console.error('usage: probe.ts ADDRESS PORT [--interval MS] [--count N] [--wait MS] [--report-lost MS]');
  process.exit(2);
}
const interval = Number(values.interval);
const count = values.count === undefined ? Infinity : Number(values.count);
const reportLostAfter = values['report-lost'] === undefined ? undefined : Number(values['report-lost']);
const started = performance.now();
const clock = () => performance.timeOrigin + performance.now();
const sentAt = new Map<number, number>();
let seq = 0;

const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
socket.on('message', (message) => {
  const [responder, number] = message.toString().split(' ');
  const at = sentAt.get(Number(number));
  if (at === undefined) return;
  sentAt.delete(Number(number));
  console.log(`reply ${number} ${at.toFixed(1)} ${(clock() - at).toFixed(2)} ${responder}`);
});
// an unreachable VIP (no ARP answer yet) is a lost probe, not the prober's end
socket.on('error', () => undefined);

const finish = () => {
  console.log(`sent ${seq}`);
  process.exit(0);
};
/** How long after the last probe SIGTERM still waits for its reply. */
const inFlightGraceMs = 100;
let stopping = false;
let nextProbe: NodeJS.Timeout | undefined;
// A probe answered just after the signal is not lost: exiting at once counted the last one
// lost in a run in ten or so (its reply was on the client's wire). No more probes leave;
// the last ones' replies are waited for, up to inFlightGraceMs after each was sent.
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  clearTimeout(nextProbe);
  const awaitReplies = () => {
    if ([...sentAt.values()].some((at) => clock() - at < inFlightGraceMs)) setTimeout(awaitReplies, 1);
    else finish();
  };
  awaitReplies();
});

/**
 * Reports the probe lost if still unanswered when this timer fires on time. A timer
 * that fires late means this process did not run: replies may be waiting in the socket,
 * and timers run before sockets are read, so the verdict waits for a turn on time.
 */
const judgeLater = (probe: number, at: number, waitMs: number) => {
  const due = performance.now() + waitMs;
  setTimeout(() => {
    if (!sentAt.has(probe)) return;
    if (performance.now() - due > 50) {
      judgeLater(probe, at, 10);
      return;
    }
    sentAt.delete(probe);
    console.log(`lost ${probe} ${at.toFixed(1)}`);
  }, waitMs);
};

// Each probe is scheduled from the start time, so a late timer does not shift the rest.
const next = () => {
  if (seq >= count) {
    setTimeout(finish, Number(values.wait));
    return;
  }
  const probe = seq;
  const at = clock();
  sentAt.set(probe, at);
  socket.send(String(probe), Number(port), address);
  if (reportLostAfter !== undefined) judgeLater(probe, at, reportLostAfter);
  seq += 1;
  nextProbe = setTimeout(next, Math.max(0, seq * interval - (performance.now() - started)));
};
next();
