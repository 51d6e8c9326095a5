import { describe, expect, it } from 'vitest';
import { SyncReceiver, commitBatches, defaultReceiverConfig } from '../../../src/sync/receiver.js';
import { SyncSender, defaultSenderConfig } from '../../../src/sync/sender.js';
import { decodeSyncMessage, encodeSyncMessage, recordBudget, type SyncMessage } from '../../../src/sync/wire.js';
import { record, SyncSimulation } from './simulator.js';

const data = (seq: number, records: Array<{ key: string; value?: string }>, flags: { begin?: boolean; end?: boolean } = {}) => ({
  type: 'data' as const,
  epoch: 1,
  seq,
  records: records.map(({ key, value }) => ({ remove: value === undefined, key, entry: value ?? '', timeoutMs: 1000 })),
  resyncBegin: flags.begin ?? false,
  resyncEnd: flags.end ?? false,
});

function receiver(commitPolicy: 'on-takeover' | 'write-through' = 'on-takeover', cacheMaxEntries = 100) {
  return new SyncReceiver<string>({ ...defaultReceiverConfig, commitPolicy, cacheMaxEntries });
}

describe('the wire format', () => {
  it('round-trips every message and refuses junk', () => {
    const messages: SyncMessage[] = [
      {
        kind: 'ipvs',
        body: {
          type: 'data',
          epoch: 7,
          seq: 2 ** 40,
          records: [{ remove: true, entry: new Uint8Array([1, 2]) }],
          resyncBegin: true,
          resyncEnd: false,
        },
      },
      { kind: 'conntrack', body: { type: 'alive', epoch: 1, lastSeq: 0 } },
      { kind: 'conntrack', body: { type: 'ack', epoch: 1, upTo: 5 } },
      { kind: 'conntrack', body: { type: 'nack', epoch: 1, from: 2, to: 4 } },
      { kind: 'conntrack', body: { type: 'resync', epoch: 0 } },
    ];
    for (const message of messages) {
      const decoded = decodeSyncMessage(encodeSyncMessage(message));
      expect(decoded.ok && decoded.value).toEqual({
        ...message,
        body: message.body.type === 'data' ? { ...message.body, records: [{ remove: true, entry: Buffer.from([1, 2]) }] } : message.body,
      });
    }
    expect(decodeSyncMessage(new Uint8Array([0xff, 0xff])).ok).toBe(false);
    expect(decodeSyncMessage(encodeSyncMessage({ kind: 'conntrack', body: { type: 'nack', epoch: 1, from: 5, to: 4 } })).ok).toBe(false);
    expect(decodeSyncMessage(new Uint8Array([0x08, 0x01])).ok).toBe(false);
  });

  it('packs records up to the budget', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: recordBudget(1300) });
    sender.handle({ type: 'start', now: 0 });
    const records = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, remove: false, entry: new Uint8Array(100) }));
    const sends = sender.handle({ type: 'changes', now: 1, records }).flatMap((action) => (action.type === 'send' ? [action.body] : []));
    for (const body of sends) expect(encodeSyncMessage({ kind: 'conntrack', body }).length).toBeLessThanOrEqual(1300);
    expect(sends.flatMap((body) => (body.type === 'data' ? body.records : []))).toHaveLength(100);
    expect(sends.length).toBeLessThanOrEqual(10);
  });
});

describe('the sender', () => {
  it('resends from its queue, and starts a new stream when a NACK asks for what it no longer has', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: 100, window: 4, takeoverDumpDelayMs: 0 });
    expect(sender.handle({ type: 'start', now: 0 }).map((a) => a.type)).toEqual(['resync', 'dump', 'send']);
    sender.handle({ type: 'dumpDone', now: 0, epoch: 1 });
    sender.handle({ type: 'changes', now: 1, records: ['a', 'b', 'c'].map((key) => record(key, 'x'.repeat(60))) });
    expect(sender.status()).toMatchObject({ lastSeq: 4, unacknowledged: 4 });
    // 1 begins the stream, 2 ends the (empty) dump, 3 and 4 carry a and b: the window is full
    sender.handle({ type: 'changes', now: 2, records: [record('d', 'x')] });
    expect(sender.status()).toMatchObject({ lastSeq: 4, backlog: 2 });
    const resent = sender.handle({ type: 'feedback', now: 3, body: { type: 'nack', epoch: 1, from: 2, to: 3 } });
    expect(resent.map((a) => a.type === 'send' && a.resend && a.body.type === 'data' && a.body.seq)).toEqual([2, 3]);
    sender.handle({ type: 'feedback', now: 4, body: { type: 'ack', epoch: 1, upTo: 3 } });
    // c and d share message 5
    expect(sender.status()).toMatchObject({ lastSeq: 5, unacknowledged: 2, backlog: 0, peerSynced: true });
    const again = sender.handle({ type: 'feedback', now: 5, body: { type: 'nack', epoch: 1, from: 1, to: 1 } });
    expect(again.filter((a) => a.type === 'resync')).toEqual([{ type: 'resync', reason: 'nack-unavailable', epoch: 2 }]);
  });

  it('asks for the dump only once the takeover is over, streaming changes meanwhile', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: 100, takeoverDumpDelayMs: 1000 });
    expect(sender.handle({ type: 'start', now: 10 }).map((a) => a.type)).toEqual(['resync', 'send']);
    expect(sender.nextWakeAt()).toBe(510);
    expect(sender.handle({ type: 'changes', now: 20, records: [record('a', 'x')] }).map((a) => a.type)).toEqual(['send']);
    // a resync the peer asks for meanwhile waits as well
    sender.handle({ type: 'feedback', now: 30, body: { type: 'resync', epoch: sender.status().epoch } });
    sender.handle({ type: 'tick', now: 530 });
    expect(sender.nextWakeAt()).toBe(1010);
    expect(sender.wantsDump(2)).toBe(true);
    expect(sender.handle({ type: 'tick', now: 1009 }).some((a) => a.type === 'dump')).toBe(false);
    expect(sender.handle({ type: 'tick', now: 1010 }).filter((a) => a.type === 'dump')).toEqual([{ type: 'dump', epoch: 2 }]);
    // later streams dump at once
    expect(sender.handle({ type: 'lost', now: 2000 }).filter((a) => a.type !== 'send')).toEqual([
      { type: 'resync', reason: 'events-lost', epoch: 3 },
      { type: 'dump', epoch: 3 },
    ]);
  });

  it('ignores feedback of an older stream and starts a new one on lost events', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: 100 }, 41);
    sender.handle({ type: 'start', now: 0 });
    expect(sender.handle({ type: 'feedback', now: 1, body: { type: 'resync', epoch: 40 } })).toEqual([]);
    expect(sender.handle({ type: 'lost', now: 2 }).find((a) => a.type === 'resync')).toEqual({
      type: 'resync',
      reason: 'events-lost',
      epoch: 42,
    });
  });

  it('drops a record larger than a datagram', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: 100 });
    sender.handle({ type: 'start', now: 0 });
    const actions = sender.handle({ type: 'changes', now: 1, records: [{ key: 'big', remove: false, entry: new Uint8Array(200) }] });
    expect(actions).toContainEqual({ type: 'oversize', key: 'big', bytes: 200 });
  });

  it('sends an Alive when idle', () => {
    const sender = new SyncSender({ ...defaultSenderConfig, recordBudget: 100 });
    sender.handle({ type: 'start', now: 0 });
    expect(sender.nextWakeAt()).toBe(defaultSenderConfig.aliveIntervalMs);
    expect(sender.handle({ type: 'tick', now: 500 })).toEqual([
      { type: 'send', body: { type: 'alive', epoch: 1, lastSeq: 1 }, resend: false },
    ]);
  });
});

describe('the receiver', () => {
  it('applies in order, NACKs a gap once until the retry, and acknowledges', () => {
    const r = receiver();
    r.handle({ type: 'data', now: 0, stream: 'b', body: data(1, [], { begin: true }) });
    const early = r.handle({ type: 'data', now: 1, stream: 'b', body: data(3, [{ key: 'a' }]) });
    expect(early).toContainEqual({ type: 'send', body: { type: 'nack', epoch: 1, from: 2, to: 2 } });
    const later = r.handle({ type: 'data', now: 2, stream: 'b', body: data(4, [{ key: 'b', value: 'x' }]) });
    expect(later.filter((a) => a.type === 'send' && a.body.type === 'nack')).toEqual([]);
    expect(r.entries(2)).toEqual([]);
    r.handle({ type: 'data', now: 3, stream: 'b', body: data(2, [{ key: 'a', value: 'x' }]) });
    // 2 creates a, 3 removes it, 4 creates b
    expect(r.entries(3).map(({ key }) => key)).toEqual(['b']);
    const acks = r.handle({ type: 'tick', now: 100 }).filter((a) => a.type === 'send');
    expect(acks).toEqual([{ type: 'send', body: { type: 'ack', epoch: 1, upTo: 4 } }]);
  });

  it('asks for a resync of a stream it joins far past its start, and NACKs one it joins near it', () => {
    const late = receiver();
    const far = defaultReceiverConfig.syncedLag + 1;
    const actions = late.handle({ type: 'alive', now: 0, stream: 'b', epoch: 1, lastSeq: far });
    const sent = actions.flatMap((a) => (a.type === 'send' ? [a.body] : []));
    expect(sent).toEqual([{ type: 'resync', epoch: 1 }]);
    expect(actions).toContainEqual(expect.objectContaining({ type: 'log', level: 'info', event: 'sync.resync-request' }));
    // asked again only after the retry interval, and never NACKed meanwhile
    expect(late.handle({ type: 'data', now: 1, stream: 'b', body: data(far + 1, [{ key: 'a', value: '1' }]) })).not.toContainEqual(
      expect.objectContaining({ type: 'send' }),
    );
    expect(late.synced(1)).toBe(false);

    const near = receiver();
    const repaired = near.handle({ type: 'alive', now: 0, stream: 'b', epoch: 1, lastSeq: 3 });
    expect(repaired.flatMap((a) => (a.type === 'send' ? [a.body] : []))).toEqual([{ type: 'nack', epoch: 1, from: 1, to: 3 }]);
  });

  it('is synced after the resync ended, and not when the stream goes quiet', () => {
    const r = receiver();
    r.handle({ type: 'data', now: 0, stream: 'b', body: data(1, [{ key: 'a', value: '1' }], { begin: true }) });
    expect(r.synced(0)).toBe(false);
    r.handle({ type: 'data', now: 1, stream: 'b', body: data(2, [], { end: true }) });
    expect(r.synced(1)).toBe(true);
    expect(r.synced(1 + defaultReceiverConfig.staleAfterMs + 1)).toBe(false);
  });

  it('drops at the end of a new stream what the active no longer has', () => {
    const r = receiver();
    r.handle({
      type: 'data',
      now: 0,
      stream: 'b1',
      body: data(
        1,
        [
          { key: 'old', value: '1' },
          { key: 'kept', value: '1' },
        ],
        { begin: true, end: true },
      ),
    });
    r.handle({ type: 'data', now: 1, stream: 'b2', body: data(1, [{ key: 'kept', value: '2' }], { begin: true }) });
    expect(r.entries(1)).toHaveLength(2);
    r.handle({ type: 'data', now: 2, stream: 'b2', body: data(2, [], { end: true }) });
    expect(r.entries(2).map(({ key, entry }) => `${key}=${entry}`)).toEqual(['kept=2']);
  });

  it('expires entries by their own timeout', () => {
    const r = receiver();
    r.handle({ type: 'data', now: 0, stream: 'b', body: data(1, [{ key: 'a', value: '1' }], { begin: true }) });
    expect(r.nextWakeAt(0)).toBeLessThanOrEqual(1000);
    const actions = r.handle({ type: 'tick', now: 1000 });
    expect(actions).toContainEqual({ type: 'count', counter: 'expired', amount: 1 });
    expect(r.status(1000).entries).toBe(0);
  });

  it('logs once when the cache is full, and writes through for a write-through kind', () => {
    const r = receiver('write-through', 2);
    const actions = r.handle({
      type: 'data',
      now: 0,
      stream: 'b',
      body: data(
        1,
        ['a', 'b', 'c', 'd'].map((key) => ({ key, value: key })),
        { begin: true },
      ),
    });
    expect(actions.filter((a) => a.type === 'log' && a.event === 'sync.cache-full')).toHaveLength(1);
    expect(actions).toContainEqual({ type: 'count', counter: 'cache-dropped', amount: 1 });
    expect(actions).toContainEqual({ type: 'write', entries: ['a', 'b'] });
  });

  it('hands its cache over for the commit in batches and forgets the stream', () => {
    const r = receiver();
    r.handle({
      type: 'data',
      now: 0,
      stream: 'b',
      body: data(
        1,
        ['a', 'b', 'c'].map((key) => ({ key, value: key })),
        { begin: true, end: true },
      ),
    });
    expect(r.takeForCommit(1, 2)).toEqual([['a', 'b'], ['c']]);
    expect(r.status(1)).toMatchObject({ entries: 0, synced: false });
    expect(commitBatches([], 5)).toEqual([]);
  });
});

describe('a rejoining backup', () => {
  it('gets the whole table again', () => {
    const sim = new SyncSimulation(3);
    for (let key = 0; key < 200; key++) sim.table.set(`k${key}`, 'v');
    sim.start();
    sim.runUntil(2000);
    expect(sim.cached().size).toBe(200);
    sim.restartBackup();
    sim.runUntil(5000);
    expect(sim.cached()).toEqual(sim.table);
    expect(sim.resyncs).toEqual(['became-active', 'nack-unavailable']);
  });
});
