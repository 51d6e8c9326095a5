// The counters registry, and the catalogue of tandem's counters declared with it.
import { describe, expect, it } from 'vitest';
import { addToGroup, CounterRegistry, GroupIncrements } from '../../../src/lib/counters.js';
import { createStats } from '../../../src/lib/stats.js';

describe('CounterRegistry', () => {
  it('counts per set of label values, a number label as its string', () => {
    const registry = new CounterRegistry();
    const rejected = registry.counter({ name: 'test_rejected_total', help: 'rejected', labels: ['path', 'reason'] });
    rejected.inc({ path: 0, reason: 'replay' });
    rejected.add(2, { path: '0', reason: 'replay' });
    rejected.inc({ path: 1, reason: 'bad-mac' });
    expect(rejected.value({ path: 0, reason: 'replay' })).toBe(3);
    expect(rejected.value({ path: 1, reason: 'replay' })).toBe(0);
    expect(rejected.sum()).toBe(4);
    expect(rejected.sum({ path: 1 })).toBe(1);
    expect(rejected.matching({ reason: 'replay' })).toEqual([{ labels: { path: '0', reason: 'replay' }, value: 3 }]);
  });

  it('has a counter without labels at 0 from the start', () => {
    const registry = new CounterRegistry();
    const sent = registry.counter({ name: 'test_sent_total', help: 'sent' });
    expect(sent.value()).toBe(0);
    sent.inc();
    sent.add(4);
    expect(sent.value()).toBe(5);
  });

  it('snapshots every counter in the order declared, as prom-client shows a metric', () => {
    const registry = new CounterRegistry();
    registry.counter({ name: 'test_sent_total', help: 'Frames sent.' }).inc();
    const reloads = registry.counter({ name: 'test_reloads_total', help: 'Reloads by result.', labels: ['result'] });
    reloads.inc({ result: 'ok' });
    const snapshot = registry.snapshot();
    expect(snapshot).toEqual([
      { name: 'test_sent_total', help: 'Frames sent.', type: 'counter', labelNames: [], values: [{ labels: {}, value: 1 }] },
      {
        name: 'test_reloads_total',
        help: 'Reloads by result.',
        type: 'counter',
        labelNames: ['result'],
        values: [{ labels: { result: 'ok' }, value: 1 }],
      },
    ]);
    // a copy: counting on does not change a snapshot taken
    reloads.inc({ result: 'ok' });
    expect(snapshot[1]?.values[0]?.value).toBe(1);
  });

  it('only goes up', () => {
    const counter = new CounterRegistry().counter({ name: 'test_sent_total', help: 'sent' });
    expect(() => counter.add(-1)).toThrow('only goes up');
    expect(() => counter.add(Number.NaN)).toThrow('only goes up');
    expect(counter.value()).toBe(0);
  });

  it('refuses a name declared twice, a name that is not a counter name and a bad label name', () => {
    const registry = new CounterRegistry();
    registry.counter({ name: 'test_sent_total', help: 'sent' });
    expect(() => registry.counter({ name: 'test_sent_total', help: 'again' })).toThrow('declared twice');
    expect(() => registry.counter({ name: 'test_sent', help: 'no suffix' })).toThrow('ending in _total');
    expect(() => registry.counter({ name: 'test-sent_total', help: 'dash' })).toThrow('ending in _total');
    expect(() => registry.counter({ name: 'test_x_total', help: 'label', labels: ['a-b'] })).toThrow('invalid label name a-b');
  });
});

describe('createStats', () => {
  it('declares every counter of tandem once, each named tandem_<area>_…_total with help', () => {
    const snapshot = createStats().registry.snapshot();
    expect(snapshot.length).toBeGreaterThan(0);
    for (const { name, help } of snapshot) {
      expect(name).toMatch(/^tandem_[a-z]+_[a-z_]+_total$/);
      expect(help, name).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('gives each set its own registry', () => {
    const one = createStats();
    one.announce.framesSent.inc();
    expect(createStats().announce.framesSent.value()).toBe(0);
  });
});

describe('GroupIncrements', () => {
  it('adds what a copy of a group counted since it last sent, and keeps what was added when the copy starts over', () => {
    const registry = createStats();
    let copy = createStats();
    let increments = new GroupIncrements(copy.ipvs);
    copy.ipvs.reconciles.inc({ reason: 'claim' });
    copy.ipvs.operations.add(5, { kind: 'add-service' });
    addToGroup(registry.ipvs, increments.take()!);
    expect(increments.take()).toBeUndefined();
    copy.ipvs.operations.add(2, { kind: 'add-service' });
    copy.ipvs.repairs.inc();
    expect(increments.take()).toEqual({ operations: [{ labels: { kind: 'add-service' }, value: 2 }], repairs: [{ labels: {}, value: 1 }] });
    // a thread that stopped: its successor counts from 0
    copy = createStats();
    increments = new GroupIncrements(copy.ipvs);
    copy.ipvs.reconciles.inc({ reason: 'claim' });
    addToGroup(registry.ipvs, increments.take()!);
    expect(registry.ipvs.reconciles.value({ reason: 'claim' })).toBe(2);
    expect(registry.ipvs.operations.value({ kind: 'add-service' })).toBe(5);
  });
});
