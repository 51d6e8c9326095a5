// The chaos run's outage measure: only lost probes make an outage, never time in
// which the prober itself was not running. Its timeline: a daemon's lines on the
// run's clock, whatever its own.
import { describe, expect, it } from 'vitest';
import { longestOutage, parseOutcome, parseSchedstat, timelineAt, type ProbeOutcome } from '../../support/chaos.js';

const answered = (seq: number, sentAt: number): ProbeOutcome => ({ seq, sentAt, answered: true, responder: 'ifw01' });
const lost = (seq: number, sentAt: number): ProbeOutcome => ({ seq, sentAt, answered: false });

describe('longestOutage', () => {
  it('is zero when every probe was answered, however long the prober paused between them', () => {
    expect(longestOutage([answered(1, 0), answered(2, 10), answered(3, 330), answered(4, 340)], 0, 400)).toBe(0);
  });

  it('runs from the first lost probe to the next answered one', () => {
    const outcomes = [answered(1, 0), lost(2, 10), lost(3, 20), lost(4, 30), answered(5, 40), lost(6, 50), answered(7, 60)];
    expect(longestOutage(outcomes, 0, 100)).toBe(30);
  });

  it('does not care in which order the outcomes were read', () => {
    expect(longestOutage([answered(5, 40), lost(3, 20), answered(1, 0), lost(2, 10)], 0, 100)).toBe(30);
  });

  it('ends at the window when no probe was answered since', () => {
    expect(longestOutage([answered(1, 0), lost(2, 10), lost(3, 20)], 0, 100)).toBe(90);
  });

  it('counts only the part inside the window', () => {
    const outcomes = [lost(1, 0), lost(2, 10), answered(3, 60), lost(4, 70), answered(5, 200)];
    expect(longestOutage(outcomes, 30, 100)).toBe(30);
  });
});

describe('parseOutcome', () => {
  it('reads replies and lost probes, and nothing else', () => {
    expect(parseOutcome('reply 7 1700000000000.5 0.21 ifw02')).toEqual({
      seq: 7,
      sentAt: 1700000000000.5,
      answered: true,
      responder: 'ifw02',
    });
    expect(parseOutcome('lost 8 1700000000010.5')).toEqual({ seq: 8, sentAt: 1700000000010.5, answered: false });
    expect(parseOutcome('sent 9')).toBeUndefined();
  });
});

describe('timelineAt', () => {
  it("places a line by the daemon's own stamp while its clock runs true, however late the line was read", () => {
    expect(timelineAt({ time: 1000, receivedAt: 1003 })).toBe(1000);
    expect(timelineAt({ time: 1000, receivedAt: 1200 })).toBe(1000);
    expect(timelineAt({ time: 1000 })).toBe(1000);
  });

  it('places it by its arrival once the clock was stepped, even by a second or a few (fault 421: +4 s)', () => {
    expect(timelineAt({ time: 5000, receivedAt: 1002 })).toBe(1002);
    expect(timelineAt({ time: 2000, receivedAt: 1002 })).toBe(1002);
    expect(timelineAt({ time: 1000, receivedAt: 2002 })).toBe(2002);
    expect(timelineAt({ time: 1000 + 3600_000, receivedAt: 1002 })).toBe(1002);
  });
});

describe('parseSchedstat', () => {
  it('reads the time on a CPU and the time waiting for one, in ms', () => {
    expect(parseSchedstat('4600000 350000000 12\n')).toEqual({ onCpuMs: 4.6, waitMs: 350 });
  });
});
