import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnnounceSpec } from '../../../src/config/model.js';
import { createStats } from '../../../src/lib/stats.js';
import { AnnounceSchedule, Announcer, announcementFrames, type AnnounceTarget } from '../../../src/net/garp.js';
import { captureLogger } from '../../support/capture-log.js';

const mac = Buffer.from('020000000a01', 'hex');
const vip: AnnounceTarget = { address: '192.0.2.100', family: 4, ifindex: 2, device: 'eth0', mac };
const vip6: AnnounceTarget = { address: '2001:db8::100', family: 6, ifindex: 2, device: 'eth0', mac };
const gateway: AnnounceTarget = { address: '198.51.100.1', family: 4, ifindex: 3, device: 'eth1', mac };

/** Runs the schedule in simulated time; returns [time, address] for every round sent. */
function simulate(spec: AnnounceSpec, until: number, steps: Array<[number, (s: AnnounceSchedule, now: number) => void]>) {
  const schedule = new AnnounceSchedule(spec);
  const sent: Array<[number, string]> = [];
  const pending = [...steps];
  let now = 0;
  while (now <= until) {
    while (pending[0] && pending[0][0] <= now) pending.shift()![1](schedule, now);
    for (const t of schedule.due(now)) sent.push([now, t.address]);
    const wake = Math.min(schedule.nextDue() ?? Infinity, pending[0]?.[0] ?? Infinity);
    if (!Number.isFinite(wake)) break;
    now = Math.max(now + 1, wake);
  }
  return sent;
}

describe('AnnounceSchedule', () => {
  it('sends a round at once, then count - 1 more, interval apart', () => {
    const sent = simulate({ count: 3, interval: 200, refresh: 0 }, 10_000, [[0, (s, now) => s.announce([vip, gateway], now)]]);
    expect(sent).toEqual([
      [0, '192.0.2.100'],
      [0, '198.51.100.1'],
      [200, '192.0.2.100'],
      [200, '198.51.100.1'],
      [400, '192.0.2.100'],
      [400, '198.51.100.1'],
    ]);
  });

  it('refreshes every `refresh` ms after the burst while held, until cleared', () => {
    const sent = simulate({ count: 2, interval: 100, refresh: 1000 }, 5000, [
      [0, (s, now) => s.announce([vip], now)],
      [2500, (s) => s.clear()],
    ]);
    expect(sent.map(([t]) => t)).toEqual([0, 100, 1100, 2100]);
  });

  it('restarts the burst for everything held on reannounce', () => {
    const sent = simulate({ count: 2, interval: 100, refresh: 0 }, 5000, [
      [0, (s, now) => s.announce([vip], now)],
      [50, (s, now) => s.announce([vip6], now)],
      [1000, (s, now) => s.announce(s.held(), now)],
    ]);
    expect(sent).toEqual([
      [0, '192.0.2.100'],
      [50, '2001:db8::100'],
      [100, '192.0.2.100'],
      [150, '2001:db8::100'],
      [1000, '192.0.2.100'],
      [1000, '2001:db8::100'],
      [1100, '192.0.2.100'],
      [1100, '2001:db8::100'],
    ]);
  });

  it('announces nothing on claim with count 0, but still refreshes', () => {
    const sent = simulate({ count: 0, interval: 100, refresh: 500 }, 1200, [[0, (s, now) => s.announce([vip], now)]]);
    expect(sent.map(([t]) => t)).toEqual([500, 1000]);
  });

  it('does not bunch rounds up after a late tick', () => {
    const schedule = new AnnounceSchedule({ count: 5, interval: 100, refresh: 0 });
    schedule.announce([vip], 0);
    schedule.due(0);
    expect(schedule.due(450)).toHaveLength(1); // 350 ms late
    expect(schedule.nextDue()).toBe(550);
  });

  it('sends exactly `count` rounds per address over any claim pattern (no refresh)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 5 }),
        (count, interval, claims) => {
          const at = [...claims].sort((a, b) => a - b);
          const sent = simulate(
            { count, interval, refresh: 0 },
            100_000,
            at.map((t) => [t, (s, now) => s.announce([vip], now)] as [number, (s: AnnounceSchedule, now: number) => void]),
          );
          // each claim restarts the burst: the last one always completes
          const last = at[at.length - 1]!;
          expect(sent.filter(([t]) => t >= last)).toHaveLength(count);
          expect(sent.filter(([t]) => t >= last).map(([t]) => t - last)).toEqual(Array.from({ length: count }, (_, i) => i * interval));
        },
      ),
    );
  });
});

describe('announcementFrames', () => {
  it('sends both ARP forms for IPv4, one advertisement for IPv6, nothing without a MAC', () => {
    expect(announcementFrames(vip).map((f) => f.readUInt16BE(20))).toEqual([1, 2]);
    expect(announcementFrames(vip6).map((f) => f[54])).toEqual([136]);
    expect(announcementFrames({ ...vip, mac: undefined })).toEqual([]);
  });
});

describe('Announcer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const spec: AnnounceSpec = { count: 3, interval: 100, refresh: 0 };

  function announcer(fail?: (ifindex: number) => Error | undefined) {
    const frames: Array<{ at: number; ifindex: number; op: number }> = [];
    const { logger, records } = captureLogger();
    const sender = {
      send(ifindex: number, frame: Buffer) {
        const error = fail?.(ifindex);
        if (error) throw error;
        frames.push({ at: Date.now(), ifindex, op: frame.readUInt16BE(20) });
      },
    };
    const { announce } = createStats();
    const subject = new Announcer({ sender, spec, logger, now: () => Date.now(), stats: announce });
    const counters = () => ({ framesSent: announce.framesSent.value(), framesFailed: announce.framesFailed.value() });
    return { subject, frames, records, counters };
  }

  it('sends the first round before announce() returns, the rest on timers', () => {
    const { subject, frames, counters } = announcer();
    const start = Date.now();
    subject.announce([vip]);
    expect(frames).toHaveLength(2);
    vi.advanceTimersByTime(1000);
    expect(frames.map((f) => [f.at - start, f.op])).toEqual([
      [0, 1],
      [0, 2],
      [100, 1],
      [100, 2],
      [200, 1],
      [200, 2],
    ]);
    expect(counters()).toEqual({ framesSent: 6, framesFailed: 0 });
  });

  it('stops everything on stop()', () => {
    const { subject, frames } = announcer();
    subject.announce([vip]);
    subject.stop();
    vi.advanceTimersByTime(1000);
    expect(frames).toHaveLength(2);
    subject.announce([]); // sends whatever is due: nothing is held any more
    expect(frames).toHaveLength(2);
  });

  it('counts and logs a failing link once per error, keeps going, and logs recovery', () => {
    let down = true;
    const error = Object.assign(new Error('sendto: Network is down (ENETDOWN)'), { code: 'ENETDOWN' });
    const { subject, frames, records, counters } = announcer((ifindex) => (down && ifindex === 3 ? error : undefined));
    subject.announce([vip, gateway]);
    vi.advanceTimersByTime(100);
    down = false;
    vi.advanceTimersByTime(100);
    expect(frames.filter((f) => f.ifindex === 2)).toHaveLength(6);
    expect(frames.filter((f) => f.ifindex === 3)).toHaveLength(2);
    expect(counters()).toEqual({ framesSent: 8, framesFailed: 4 });
    expect(records.filter((r) => r.event === 'announce.failed')).toHaveLength(1);
    expect(records.filter((r) => r.event === 'announce.recovered')).toHaveLength(1);
  });
});
