// One table kind's sender and receiver over a simulated network, in simulated time:
// loss, duplication and reordering (random delay) per direction, a table that changes
// at chosen times, and the dump fed in chunks as the sender asks for them. The wire
// codec is on the path, so what the network carries is what the sockets would.
import { SyncReceiver, defaultReceiverConfig, type ReceiverConfig } from '../../../src/sync/receiver.js';
import { SyncSender, defaultSenderConfig, type OutgoingRecord, type SenderConfig } from '../../../src/sync/sender.js';
import { decodeSyncMessage, encodeSyncMessage, type FeedbackBody, type StreamBody } from '../../../src/sync/wire.js';

export interface Network {
  loss: number;
  duplication: number;
  /** Each datagram is delayed by up to this many ms (so later ones may overtake it). */
  jitterMs: number;
}

export const perfect: Network = { loss: 0, duplication: 0, jitterMs: 0 };

interface InFlight {
  at: number;
  order: number;
  toReceiver: boolean;
  bytes: Uint8Array;
  /** The active's boot when it was sent: the channel drops what an earlier boot sent. */
  boot: string;
}

/** A small deterministic generator, so a failing property replays. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function record(key: string, value: string | undefined): OutgoingRecord {
  return { key, remove: value === undefined, entry: encoder.encode(`${key}=${value ?? ''}`) };
}

export class SyncSimulation {
  now = 0;
  readonly table = new Map<string, string>();
  sender: SyncSender;
  receiver: SyncReceiver<string>;
  network: Network = perfect;
  readonly written: string[] = [];
  readonly resyncs: string[] = [];
  sent = 0;
  private inFlight: InFlight[] = [];
  private order = 0;
  private dump: { epoch: number; keys: string[]; next: number } | undefined;
  private readonly rand: () => number;
  /** The active's boot: a new one is a restart. */
  boot = 'boot-1';

  constructor(
    seed = 1,
    senderConfig: Partial<SenderConfig> = {},
    receiverConfig: Partial<ReceiverConfig> = {},
    readonly entryTimeoutMs = 1e12,
  ) {
    this.rand = random(seed);
    this.newSender = () =>
      new SyncSender(
        { ...defaultSenderConfig, recordBudget: 200, window: 16, dumpLowWater: 20, ...senderConfig },
        Number(this.boot.slice(5)) * 1000,
      );
    this.newReceiver = () =>
      new SyncReceiver<string>({ ...defaultReceiverConfig, commitPolicy: 'on-takeover', cacheMaxEntries: 100_000, ...receiverConfig });
    this.sender = this.newSender();
    this.receiver = this.newReceiver();
  }

  private readonly newSender: () => SyncSender;
  private readonly newReceiver: () => SyncReceiver<string>;

  /** The active's daemon restarts (a new boot) and streams again; what was in flight still arrives. */
  restartActive(): void {
    this.boot = `boot-${Number(this.boot.slice(5)) + 1}`;
    this.sender = this.newSender();
    this.dump = undefined;
    this.start();
  }

  /** The backup's daemon restarts with an empty cache. */
  restartBackup(): void {
    this.receiver = this.newReceiver();
  }

  start(): void {
    this.senderActions(this.sender.handle({ type: 'start', now: this.now }));
  }

  change(key: string, value: string | undefined): void {
    if (value === undefined) this.table.delete(key);
    else this.table.set(key, value);
    this.senderActions(this.sender.handle({ type: 'changes', now: this.now, records: [record(key, value)] }));
  }

  /** Runs until `until`, stepping to each delivery and each deadline. */
  runUntil(until: number): void {
    while (this.now < until) {
      this.feedDump();
      const next = Math.min(
        until,
        this.sender.nextWakeAt(),
        this.receiver.nextWakeAt(this.now),
        ...this.inFlight.map((datagram) => datagram.at),
      );
      this.now = Math.max(this.now, next);
      const due = this.inFlight.filter((datagram) => datagram.at <= this.now).sort((a, b) => a.at - b.at || a.order - b.order);
      this.inFlight = this.inFlight.filter((datagram) => datagram.at > this.now);
      for (const datagram of due) this.deliver(datagram);
      this.senderActions(this.sender.handle({ type: 'tick', now: this.now }));
      this.receiverActions(this.receiver.handle({ type: 'tick', now: this.now }));
      if (due.length === 0 && next === this.now && this.now < until) this.now += 1;
    }
  }

  /** The receiver's cache as key → value. */
  cached(): Map<string, string> {
    return new Map(this.receiver.entries(this.now).map(({ key, entry }) => [key, entry]));
  }

  private feedDump(): void {
    const dump = this.dump;
    while (dump && this.sender.wantsDump(dump.epoch)) {
      const keys = dump.keys.slice(dump.next, dump.next + 10);
      dump.next += keys.length;
      const records = keys.flatMap((key) => {
        const value = this.table.get(key);
        return value === undefined ? [] : [record(key, value)];
      });
      this.senderActions(this.sender.handle({ type: 'dumpChunk', now: this.now, epoch: dump.epoch, records }));
      if (dump.next >= dump.keys.length) {
        this.dump = undefined;
        this.senderActions(this.sender.handle({ type: 'dumpDone', now: this.now, epoch: dump.epoch }));
      }
    }
  }

  private senderActions(actions: ReturnType<SyncSender['handle']>): void {
    for (const action of actions) {
      if (action.type === 'send') this.transmit(true, encodeSyncMessage({ kind: 'conntrack', body: action.body }));
      else if (action.type === 'dump') this.dump = { epoch: action.epoch, keys: [...this.table.keys()], next: 0 };
      else if (action.type === 'resync') this.resyncs.push(action.reason);
    }
  }

  private receiverActions(actions: ReturnType<SyncReceiver<string>['handle']>): void {
    for (const action of actions) {
      if (action.type === 'send') this.transmit(false, encodeSyncMessage({ kind: 'conntrack', body: action.body }));
      else if (action.type === 'write') this.written.push(...action.entries);
    }
  }

  private transmit(toReceiver: boolean, bytes: Uint8Array): void {
    this.sent += 1;
    const { loss, duplication, jitterMs } = this.network;
    const copies = this.rand() < loss ? 0 : this.rand() < duplication ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.inFlight.push({
        at: this.now + 1 + Math.floor(this.rand() * jitterMs),
        order: this.order++,
        toReceiver,
        bytes,
        boot: this.boot,
      });
    }
  }

  private deliver({ toReceiver, bytes, boot }: InFlight): void {
    if (toReceiver && boot !== this.boot) return;
    const decoded = decodeSyncMessage(bytes);
    if (!decoded.ok) throw new Error(decoded.error);
    const { body } = decoded.value;
    if (toReceiver) this.receiverActions(this.receiver.handle(this.streamEvent(body as StreamBody)));
    else this.senderActions(this.sender.handle({ type: 'feedback', now: this.now, body: body as FeedbackBody }));
  }

  private streamEvent(body: StreamBody): Parameters<SyncReceiver<string>['handle']>[0] {
    if (body.type === 'alive') return { type: 'alive', now: this.now, stream: this.boot, epoch: body.epoch, lastSeq: body.lastSeq };
    const records = body.records.map(({ remove, entry }) => {
      const [key = '', value = ''] = decoder.decode(entry).split('=');
      return { remove, key, entry: value, timeoutMs: this.entryTimeoutMs };
    });
    return { type: 'data', now: this.now, stream: this.boot, body: { ...body, records } };
  }
}
