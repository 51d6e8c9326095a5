import { describe, expect, it } from 'vitest';
import { LinkTracker, linkCondition } from '../../../src/net/links.js';
import type { HostLink } from '../../../src/net/rtnl.js';

const link = (index: number, name: string, adminUp = true, running = true): HostLink => ({ index, name, adminUp, running });

describe('linkCondition', () => {
  it('distinguishes the ways a link is down', () => {
    expect(linkCondition(link(2, 'eth0'))).toBe('up');
    expect(linkCondition(link(2, 'eth0', false, false))).toBe('admin-down');
    expect(linkCondition(link(2, 'eth0', true, false))).toBe('no-carrier');
    expect(linkCondition(undefined)).toBe('missing');
  });
});

describe('LinkTracker', () => {
  it('reports every monitored device at start, missing ones as down', () => {
    const tracker = new LinkTracker(['eth0', 'eth1', 'bond0']);
    const events = tracker.snapshot([link(1, 'lo'), link(2, 'eth0'), link(3, 'eth1', true, false)], true);
    expect(events).toEqual([
      { device: 'eth0', up: true, condition: 'up', initial: true },
      { device: 'eth1', up: false, condition: 'no-carrier', initial: true },
      { device: 'bond0', up: false, condition: 'missing', initial: true },
    ]);
    expect(tracker.current().map((s) => s.up)).toEqual([true, false, false]);
  });

  it('emits only up/down changes of monitored devices', () => {
    const tracker = new LinkTracker(['eth0']);
    tracker.snapshot([link(2, 'eth0'), link(3, 'eth1')], true);
    expect(tracker.changed(link(3, 'eth1', false, false))).toEqual([]);
    expect(tracker.changed(link(2, 'eth0'))).toEqual([]);
    expect(tracker.changed(link(2, 'eth0', true, false))).toEqual([{ device: 'eth0', up: false, condition: 'no-carrier', initial: false }]);
    expect(tracker.changed(link(2, 'eth0', false, false))).toEqual([]);
    expect(tracker.changed(link(2, 'eth0'))).toEqual([{ device: 'eth0', up: true, condition: 'up', initial: false }]);
    expect(tracker.isUp('eth0')).toBe(true);
  });

  it('treats a deleted or renamed link as missing, and a new one by name', () => {
    const tracker = new LinkTracker(['eth0']);
    tracker.snapshot([link(2, 'eth0')], true);
    expect(tracker.changed(link(2, 'wan0'))).toEqual([{ device: 'eth0', up: false, condition: 'missing', initial: false }]);
    expect(tracker.changed(link(7, 'eth0'))).toEqual([{ device: 'eth0', up: true, condition: 'up', initial: false }]);
    expect(tracker.removed(7)).toEqual([{ device: 'eth0', up: false, condition: 'missing', initial: false }]);
    expect(tracker.removed(99)).toEqual([]);
  });

  it('reports only real changes when a later snapshot resynchronises', () => {
    const tracker = new LinkTracker(['eth0', 'eth1']);
    tracker.snapshot([link(2, 'eth0'), link(3, 'eth1')], true);
    expect(tracker.snapshot([link(2, 'eth0'), link(3, 'eth1', false, false)], false)).toEqual([
      { device: 'eth1', up: false, condition: 'admin-down', initial: false },
    ]);
  });
});
