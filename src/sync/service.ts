// The sync driver: one authenticated UDP channel (kind KIND_SYNC, port sync.port) to
// the peer, and per table kind a sender, a receiver and the table they keep warm. It
// owns the clock (one timer, armed for the machines' next deadline), feeds them what
// arrives and performs what they answer: datagrams, the table's dump in chunks (never
// more than the sender asks for, yielding to the event loop between chunks), writes
// of a write-through kind, and the commit of the on-takeover kinds when this node
// becomes active. What decides is in sender.ts and receiver.ts.
import { randomInt } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  ChannelEndpoint,
  LogRateLimiter,
  maxPayloadLength,
  messageKinds,
  SecureChannel,
  syncPath,
  type ChannelMessage,
  type ChannelPath,
  type ChannelSessions,
  type Keyring,
  type Role,
} from '../cluster/index.js';
import { ipvsSyncOverChannel } from '../config/index.js';
import type { Model, NodeSpec } from '../config/model.js';
import { SerialQueue } from '../lib/serial-queue.js';
import type { Stats, SyncStats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import {
  SyncReceiver,
  defaultReceiverConfig,
  type ReceivedData,
  type ReceivedRecord,
  type ReceiverAction,
  type ReceiverCounter,
} from './receiver.js';
import { SyncSender, defaultSenderConfig, type OutgoingRecord, type SenderAction, type SenderEvent } from './sender.js';
import { syncStatusOf, type ConnsListing, type KindFigures, type SyncStatus } from './status.js';
import type { SyncKind, SyncedTable, TableChange } from './table.js';
import { decodeSyncMessage, encodeSyncMessage, recordBudget, syncKinds, type DataBody, type SyncMessage } from './wire.js';

/** Builds a kind's kernel table; the daemon calls it once at start for each enabled kind.
 *  Undefined where the kernel has no such table (no IPVS in a lab or a container). */
export type SyncTableFactory = (context: {
  model: Model;
  logger: Logger;
  stats: Stats;
}) => SyncedTable<unknown> | undefined | Promise<SyncedTable<unknown> | undefined>;

/** The injection point: a table per kind this build can sync (conntrack, ipvs). */
export type SyncTableFactories = Partial<Record<SyncKind, SyncTableFactory>>;

export interface SyncServiceOptions {
  model: Model;
  self: NodeSpec;
  peer: NodeSpec;
  keyring: Keyring;
  /** Shared with the heartbeat channel: one boot id, one trusted peer boot. */
  sessions: ChannelSessions;
  tables: SyncTableFactories;
  logger: Logger;
  /** Monotonic clock in ms. */
  now: () => number;
  stats: SyncStats;
  /** The whole registry, for the tables' own counters. */
  registry: Stats;
  /** Called when the tables become synced, or stop being so. */
  onSyncedChange: (synced: boolean) => void;
}

/** Entries per write into the kernel on takeover. */
const commitBatchSize = 1000;
/** A dump that failed is tried again after this long (a new stream). */
const dumpRetryMs = 5000;
/** `tandem conns` lists at most this many entries per kind. */
const connsListLimit = 50_000;
const logIntervalMs = 10_000;

interface LastCommit {
  entries: number;
  failed: number;
  durationMs: number;
  at: number;
  firstError?: string;
}

interface KindEngine {
  kind: SyncKind;
  table: SyncedTable<unknown>;
  sender: SyncSender;
  receiver: SyncReceiver<unknown>;
  stopWatch?: () => void;
  /** Dump loops waiting for the sender to want more. */
  dumpWaiters: Set<() => void>;
  writes: SerialQueue;
  lastCommit?: LastCommit;
}

/** Whether the model enables a kind. */
export function syncEnabled(model: Model, kind: SyncKind): boolean {
  return kind === 'conntrack' ? model.sync.conntrack?.enabled === true : ipvsSyncOverChannel(model.sync);
}

export class SyncService {
  private readonly engines = new Map<SyncKind, KindEngine>();
  private channel: SecureChannel<SyncMessage> | undefined;
  private endpoint: ChannelEndpoint | undefined;
  private readonly path: ChannelPath;
  private role: Role = 'INIT';
  private timer: NodeJS.Timeout | undefined;
  private lastSynced = false;
  private closed = false;
  private readonly rateLimiter = new LogRateLimiter<string>(logIntervalMs);

  /** The options without the model, of which the service needs two settings: a model of
   *  100,000 services must not stay on the heap after a reload replaced it. */
  private readonly options: Omit<SyncServiceOptions, 'model'>;
  private readonly cluster: string;
  private readonly port: number;

  private constructor({ model, ...options }: SyncServiceOptions) {
    this.options = options;
    this.cluster = model.cluster;
    this.port = model.sync.port;
    this.path = syncPath(options.self, options.peer);
  }

  /** Builds the enabled kinds' tables and opens the channel (none is opened when no kind runs). */
  static async open(options: SyncServiceOptions): Promise<SyncService> {
    const service = new SyncService(options);
    const { model, self, logger } = options;
    const budget = recordBudget(maxPayloadLength(model.cluster, self.name));
    for (const kind of syncKinds) {
      if (!syncEnabled(model, kind)) continue;
      const table = await options.tables[kind]?.({ model, logger: logger.child({ component: `sync-${kind}` }), stats: options.registry });
      if (!table) {
        logger.warn({ event: 'sync.no-table', kind }, `${kind} sync is enabled but there is no ${kind} table here: not synced`);
        continue;
      }
      service.engines.set(kind, {
        kind,
        table,
        sender: new SyncSender({ ...defaultSenderConfig, recordBudget: budget }, randomInt(1, 0x7fff_ffff)),
        receiver: new SyncReceiver({
          ...defaultReceiverConfig,
          commitPolicy: table.commitPolicy,
          cacheMaxEntries: kind === 'conntrack' ? (model.sync.conntrack?.cacheMaxEntries ?? 262_144) : 1 << 22,
        }),
        dumpWaiters: new Set(),
        writes: new SerialQueue(),
      });
    }
    if (service.engines.size > 0) await service.openChannel();
    return service;
  }

  private async openChannel(): Promise<void> {
    const { self, peer, keyring, sessions, logger, now, stats } = this.options;
    this.endpoint = new ChannelEndpoint({ cluster: this.cluster, self: self.name, peer: peer.name }, messageKinds.sync, keyring, sessions);
    this.channel = await SecureChannel.open({
      endpoint: this.endpoint,
      decode: decodeSyncMessage,
      paths: [this.path],
      port: this.port,
      logger: logger.child({ component: 'sync-channel' }),
      now,
      stats: stats.channel,
      purpose: 'sync',
      onMessage: (message) => this.receive(message),
    });
    logger.info(
      { event: 'sync.start', kinds: [...this.engines.keys()], path: this.path, port: this.port },
      `connection sync of ${[...this.engines.keys()].join(', ')} with ${peer.name} on ${this.path.local} -> ${this.path.remote} port ${this.port}`,
    );
    this.arm();
  }

  /** The kinds being synced. */
  get kinds(): SyncKind[] {
    return [...this.engines.keys()];
  }

  /** Every kind's tables caught up with the active's (true when nothing is synced). */
  get synced(): boolean {
    const t = this.options.now();
    return [...this.engines.values()].every((engine) => engine.receiver.synced(t));
  }

  setKeyring(keyring: Keyring): void {
    this.endpoint?.setKeyring(keyring);
  }

  /** This node's role: the active streams its tables, every other role receives. */
  setRole(role: Role): void {
    const wasActive = this.role === 'ACTIVE';
    this.role = role;
    if ((role === 'ACTIVE') === wasActive) return;
    for (const engine of this.engines.values()) {
      if (role === 'ACTIVE') {
        this.feed(engine, { type: 'start', now: this.options.now() });
        engine.stopWatch = engine.table.watch(
          (changes) =>
            this.feed(engine, { type: 'changes', now: this.options.now(), records: changes.map((c) => this.outgoing(engine, c)) }),
          () => this.feed(engine, { type: 'lost', now: this.options.now() }),
        );
      } else {
        engine.stopWatch?.();
        delete engine.stopWatch;
        this.feed(engine, { type: 'stop', now: this.options.now() });
      }
    }
    this.arm();
  }

  /** Whether a commit would write anything into the kernel: an on-takeover kind holds entries. */
  commitPending(): boolean {
    for (const engine of this.engines.values()) if (engine.table.commitPolicy === 'on-takeover' && engine.receiver.held > 0) return true;
    return false;
  }

  /**
   * Writes the on-takeover kinds' caches into the local kernel, in batches with the
   * event loop free between them. Never rejects: a failure is logged and counted.
   */
  async commit(): Promise<void> {
    for (const engine of this.engines.values()) {
      if (engine.table.commitPolicy !== 'on-takeover') continue;
      const { kind } = engine;
      const startedAt = this.options.now();
      const batches = engine.receiver.takeForCommit(startedAt, commitBatchSize);
      const commit: LastCommit = { entries: 0, failed: 0, durationMs: 0, at: startedAt };
      for (const batch of batches) {
        const result = await engine.table.commit(batch).catch((error: unknown) => ({
          written: 0,
          failed: batch.length,
          firstError: error instanceof Error ? error.message : String(error),
        }));
        commit.entries += result.written;
        commit.failed += result.failed;
        if (result.firstError !== undefined) commit.firstError ??= result.firstError;
        await yieldToEventLoop();
      }
      commit.durationMs = Math.round((this.options.now() - startedAt) * 10) / 10;
      engine.lastCommit = commit;
      this.countCommit(kind, commit.entries, commit.failed);
      this.options.logger[commit.failed > 0 ? 'warn' : 'info'](
        { event: 'sync.committed', kind, ...commit },
        `committed ${commit.entries} ${kind} entries into the kernel in ${commit.durationMs} ms` +
          (commit.failed > 0 ? `; ${commit.failed} failed (${commit.firstError ?? 'unknown error'})` : ''),
      );
    }
    this.checkSynced();
  }

  status(): SyncStatus {
    const t = this.options.now();
    const figures: KindFigures[] = [...this.engines.values()].map((engine) => ({
      kind: engine.kind,
      commitPolicy: engine.table.commitPolicy,
      sending: this.role === 'ACTIVE',
      sender: engine.sender.status(),
      receiver: engine.receiver.status(t),
      ...(engine.lastCommit && { lastCommit: engine.lastCommit }),
    }));
    return syncStatusOf({
      now: t,
      peer: this.options.peer.name,
      port: this.port,
      path: this.path,
      kinds: figures,
      stats: this.options.stats,
    });
  }

  /** What the caches hold, for `tandem conns`. */
  conns(): ConnsListing {
    const t = this.options.now();
    return {
      role: this.role === 'ACTIVE' ? 'sending' : 'receiving',
      kinds: [...this.engines.values()].map((engine) => {
        const entries = engine.receiver.entries(t);
        return {
          kind: engine.kind,
          synced: engine.receiver.synced(t),
          total: entries.length,
          truncated: entries.length > connsListLimit,
          entries: entries.slice(0, connsListLimit).map(({ key, expiresAt }) => ({ key, expiresInMs: Math.round(expiresAt - t) })),
        };
      }),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const engine of this.engines.values()) {
      engine.stopWatch?.();
      for (const wake of engine.dumpWaiters) wake();
      engine.table.close();
    }
    await this.channel?.close();
  }

  // ---- the loop ----

  private receive(message: ChannelMessage<SyncMessage>): void {
    const engine = this.engines.get(message.message.kind);
    if (!engine) return;
    const { body } = message.message;
    // An unproven datagram may be a recording from before our start: it must not make us
    // act. An empty acknowledgement (it frees nothing) lets the peer echo our boot, which
    // proves its next datagrams, when no heartbeat has done so yet.
    if (!message.proven) {
      if (body.type === 'data' || body.type === 'alive')
        this.channel?.send(encodeSyncMessage({ kind: engine.kind, body: { type: 'ack', epoch: body.epoch, upTo: 0 } }));
      return;
    }
    const now = message.receivedAt;
    switch (body.type) {
      case 'data':
      case 'alive':
        // An active node keeps its own tables; a peer that still streams is late or in a split brain.
        if (this.role === 'ACTIVE') return;
        this.perform(
          engine,
          engine.receiver.handle(
            body.type === 'alive'
              ? { type: 'alive', now, stream: message.bootId, epoch: body.epoch, lastSeq: body.lastSeq }
              : { type: 'data', now, stream: message.bootId, body: this.incoming(engine, body) },
          ),
        );
        break;
      default:
        if (body.type === 'nack') this.options.stats.nacks.inc({ kind: engine.kind, direction: 'received' });
        this.feed(engine, { type: 'feedback', now, body });
    }
    this.arm();
  }

  private tick(): void {
    if (this.closed) return;
    const t = this.options.now();
    for (const engine of this.engines.values()) {
      this.feed(engine, { type: 'tick', now: t });
      this.perform(engine, engine.receiver.handle({ type: 'tick', now: t }));
    }
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const t = this.options.now();
    const wakeAt = Math.min(...[...this.engines.values()].flatMap((e) => [e.sender.nextWakeAt(), e.receiver.nextWakeAt(t)]));
    // Without deadlines, a slow tick still notices a stream going quiet.
    const delay = Number.isFinite(wakeAt) ? Math.max(0, wakeAt - t) : 1000;
    this.timer = setTimeout(() => this.tick(), Math.min(delay, 1000));
    this.checkSynced();
  }

  private checkSynced(): void {
    const synced = this.synced;
    if (synced === this.lastSynced) return;
    this.lastSynced = synced;
    this.options.logger.info(
      { event: synced ? 'sync.synced' : 'sync.unsynced', kinds: this.kinds },
      synced ? 'the connection tables caught up with the peer' : 'the connection tables are not caught up with the peer',
    );
    this.options.onSyncedChange(synced);
  }

  private feed(engine: KindEngine, event: SenderEvent): void {
    this.perform(engine, engine.sender.handle(event));
    for (const wake of engine.dumpWaiters) wake();
  }

  private perform(engine: KindEngine, actions: ReadonlyArray<SenderAction | ReceiverAction<unknown>>): void {
    const { kind } = engine;
    const { stats, logger } = this.options;
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          this.channel?.send(encodeSyncMessage({ kind, body: action.body }));
          if ('resend' in action && action.body.type === 'data') {
            if (action.resend) stats.resends.inc({ kind });
            else stats.recordsSent.add(action.body.records.length, { kind });
          }
          break;
        case 'dump':
          void this.dump(engine, action.epoch);
          break;
        case 'resync':
          stats.resyncs.inc({ kind, reason: action.reason });
          logger.info(
            { event: 'sync.resync', kind, reason: action.reason, epoch: action.epoch },
            `${kind}: bulk resync to the peer (${action.reason})`,
          );
          break;
        case 'oversize':
          this.warn(
            `oversize-${kind}`,
            { event: 'sync.oversize', kind, key: action.key, bytes: action.bytes },
            `${kind} entry ${action.key} does not fit a datagram: not synced`,
          );
          break;
        case 'write':
          void engine.writes.run(() => this.writeThrough(engine, action.entries));
          break;
        case 'count':
          this.count(kind, action.counter, action.amount);
          break;
        case 'log':
          logger[action.level]({ event: action.event, kind, ...action.fields }, `${kind}: ${action.message}`);
          break;
      }
    }
  }

  private count(kind: SyncKind, counter: ReceiverCounter, amount: number): void {
    const { stats } = this.options;
    switch (counter) {
      case 'received':
        stats.recordsReceived.add(amount, { kind });
        break;
      case 'nacks':
        stats.nacks.add(amount, { kind, direction: 'sent' });
        break;
      case 'expired':
        stats.expired.add(amount, { kind, why: 'timeout' });
        break;
      case 'stale-dropped':
        stats.expired.add(amount, { kind, why: 'stale' });
        break;
      case 'cache-dropped':
        stats.cacheDropped.add(amount, { kind });
        break;
      case 'duplicates':
        break;
    }
  }

  /** Feeds the sender the table's dump for `epoch`, a chunk whenever it wants one. */
  private async dump(engine: KindEngine, epoch: number): Promise<void> {
    const current = () => !this.closed && engine.sender.status().epoch === epoch && engine.sender.status().streaming;
    try {
      for await (const chunk of engine.table.dump()) {
        while (current() && !engine.sender.wantsDump(epoch)) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              engine.dumpWaiters.delete(wake);
              resolve();
            };
            engine.dumpWaiters.add(wake);
          });
        }
        if (!current()) return;
        const records = chunk.map((entry) => this.outgoing(engine, { type: 'upsert', entry }));
        this.feed(engine, { type: 'dumpChunk', now: this.options.now(), epoch, records });
        this.arm();
        await yieldToEventLoop();
      }
      if (current()) this.feed(engine, { type: 'dumpDone', now: this.options.now(), epoch });
      this.arm();
    } catch (error) {
      if (!current()) return;
      this.options.logger.error(
        { event: 'sync.dump-failed', kind: engine.kind, err: error },
        `${engine.kind}: reading the table failed (${(error as Error).message}); a new resync in ${dumpRetryMs} ms`,
      );
      setTimeout(() => {
        if (current()) {
          this.feed(engine, { type: 'lost', now: this.options.now() });
          this.arm();
        }
      }, dumpRetryMs).unref();
    }
  }

  private async writeThrough(engine: KindEngine, entries: unknown[]): Promise<void> {
    const { kind } = engine;
    try {
      const result = await engine.table.commit(entries);
      this.countCommit(kind, result.written, result.failed);
      if (result.failed > 0) {
        this.warn(
          `write-${kind}`,
          { event: 'sync.write-failed', kind, failed: result.failed, error: result.firstError },
          `${kind}: ${result.failed} synced entries could not be written (${result.firstError ?? 'unknown error'})`,
        );
      }
    } catch (error) {
      this.countCommit(kind, 0, entries.length);
      this.warn(
        `write-${kind}`,
        { event: 'sync.write-failed', kind, failed: entries.length, err: error },
        `${kind}: writing synced entries failed`,
      );
    }
  }

  private countCommit(kind: SyncKind, written: number, failed: number): void {
    const { stats } = this.options;
    stats.commits.inc({ kind, result: failed > 0 ? 'failed' : 'ok' });
    stats.committedEntries.add(written, { kind, result: 'written' });
    stats.committedEntries.add(failed, { kind, result: 'failed' });
  }

  private outgoing(engine: KindEngine, change: TableChange<unknown>): OutgoingRecord {
    return { key: engine.table.key(change.entry), remove: change.type === 'remove', entry: engine.table.encode(change.entry) };
  }

  /** Decodes a Data message's records with the table; one it cannot decode is counted and skipped. */
  private incoming(engine: KindEngine, body: DataBody): ReceivedData<unknown> {
    const { table, kind } = engine;
    const records = body.records.flatMap((record): Array<ReceivedRecord<unknown>> => {
      try {
        const entry = table.decode(record.entry);
        return [{ remove: record.remove, key: table.key(entry), entry, timeoutMs: table.timeoutMs(entry) }];
      } catch (error) {
        this.options.stats.recordsRejected.inc({ kind });
        this.warn(`decode-${kind}`, { event: 'sync.bad-record', kind, err: error }, `${kind}: a synced entry does not decode: dropped`);
        return [];
      }
    });
    return { ...body, records };
  }

  private warn(key: string, fields: Record<string, unknown>, message: string): void {
    const admitted = this.rateLimiter.admit(key, this.options.now());
    if (admitted) this.options.logger.warn({ ...fields, suppressed: admitted.suppressed }, message);
  }
}
