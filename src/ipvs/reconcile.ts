// Brings the kernel's IPVS table to the desired one: read what is there, diff, apply.
// A claim or a repair reconciles the whole table; a reload the services it changed
// (or the whole table), a health change the one service it affects. Large tables are handled in chunks with a yield to the event
// loop between them, so heartbeats sharing the loop are never held up for long.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { DesiredTable } from './desired.js';
import { diffChunk, type KernelChunk } from './diff.js';
import { describeOperation, type IpvsDriver, type IpvsOperation, type OperationFailure } from './operations.js';
import { forEachInChunks } from './chunks.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { TimeSlice } from '../lib/time-slice.js';
import { serviceKey, type IpvsService, type ServiceIdentity } from './table.js';

export interface ReconcileResult {
  /** Applied or attempted, in order: the first KEPT_OPERATIONS of them. A claim of a big
   *  table is hundreds of thousands, and each holds its service: kept, they held the whole
   *  desired table on the event loop's heap until the result was dropped. */
  operations: IpvsOperation[];
  /** All of them. */
  operationCount: number;
  /** How many operations of each kind: tallied a chunk at a time, as a claim of a big table
   *  is hundreds of thousands of them (counting them at the end held the loop 5–15 ms). */
  byKind: OperationCounts;
  failures: OperationFailure[];
  /** Kernel services whose destinations were read. */
  servicesRead: number;
  durationMs: number;
}

export type OperationCounts = Partial<Record<IpvsOperation['kind'], number>>;

/** Operations a result names (the rest it counts): far more than a repair's log line names. */
export const KEPT_OPERATIONS = 1000;

export interface ReconcilerOptions {
  /** Services diffed and applied between two yields to the event loop. */
  chunkSize?: number;
}

/** The whole table wanted: the services it owns and the keys of those it wants in the
 *  kernel (in order), a slice at a time; and the operations that make a chunk of the
 *  kernel's services (undefined: not there) what it wants. */
export interface TableTarget {
  slices(): AsyncIterable<TableSlice> | Iterable<TableSlice>;
  diff(chunk: KernelChunk): IpvsOperation[] | Promise<IpvsOperation[]>;
  /** Called once the reconcile is over (the planner's thread lets the table go). */
  done?(): void;
}

export interface TableSlice {
  owned: ReadonlyArray<readonly [string, ServiceIdentity]>;
  wanted: readonly string[];
}

/** A desired table built on this thread as a TableTarget. */
export function localTable(desired: DesiredTable, sliceSize: number): Omit<TableTarget, 'slices'> & { slices(): Iterable<TableSlice> } {
  const byKey = new ShardedMap<IpvsService>();
  return {
    *slices() {
      let owned: Array<[string, ServiceIdentity]> = [];
      for (const entry of desired.owned) {
        owned.push(entry);
        if (owned.length < sliceSize) continue;
        yield { owned, wanted: [] };
        owned = [];
      }
      yield { owned, wanted: [] };
      for (let offset = 0; offset < desired.services.length; offset += sliceSize) {
        const wanted = desired.services.slice(offset, offset + sliceSize).map((service) => {
          const key = serviceKey(service);
          byKey.set(key, service);
          return key;
        });
        yield { owned: [], wanted };
      }
    },
    diff: (chunk) => diffChunk(chunk, byKey),
  };
}

export class IpvsReconciler {
  /** Every service tandem has been told it owns, across reloads: a service removed
   *  from the configuration is still tandem's to delete. */
  private readonly owned = new ShardedMap<ServiceIdentity>();
  /** One reconcile at a time: each starts from what the previous one left. */
  private readonly queue = new SerialQueue();
  private readonly chunkSize: number;
  private readonly logger: Logger;

  constructor(
    private readonly driver: IpvsDriver,
    logger: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.logger = logger.child({ component: 'ipvs' });
    this.chunkSize = options.chunkSize ?? 200;
  }

  /** The whole table: every service tandem owns is made to match `desired`. */
  reconcile(desired: DesiredTable, reason: string): Promise<ReconcileResult> {
    return this.reconcileTable(localTable(desired, this.chunkSize), reason);
  }

  /** The whole table, as `target` has it (built here, or by the table planner's thread). */
  reconcileTable(target: TableTarget, reason: string): Promise<ReconcileResult> {
    return this.queue.run(() => this.reconcileWhole(target, reason).finally(() => target.done?.()));
  }

  private async reconcileWhole(target: TableTarget, reason: string): Promise<ReconcileResult> {
    const started = performance.now();
    // whole tables: Maps of 100,000 would each rehash for 5–12 ms when they double
    const wanted = new ShardedMap<true>();
    const keys: string[] = [];
    const slice = new TimeSlice();
    for await (const part of target.slices()) {
      for (const [key, identity] of part.owned) this.owned.set(key, identity);
      for (const key of part.wanted) {
        wanted.set(key, true);
        keys.push(key);
      }
      if (slice.spent) await slice.next();
    }
    const actual = new ShardedMap<IpvsService>();
    await forEachInChunks(await this.driver.listServices(), this.chunkSize, (service) => {
      const key = serviceKey(service);
      if (this.owned.has(key)) actual.set(key, service);
    });
    // Deletions last, after every addition and edit.
    await forEachInChunks(actual.keys(), this.chunkSize, (key) => {
      if (!wanted.has(key)) keys.push(key);
    });
    return this.apply(keys, actual, wanted, (chunk) => target.diff(chunk), started, reason);
  }

  /** Only the services `desired` owns (desiredTable for some services, e.g. the one
   *  whose real server changed health): reads just those from the kernel, so the cost
   *  does not grow with the table. One owned but not among its services is deleted. */
  reconcileServices(desired: DesiredTable, reason: string): Promise<ReconcileResult> {
    return this.queue.run(async () => {
      const started = performance.now();
      await this.own(desired);
      const keys = [...desired.owned.keys()];
      const actual = new Map<string, IpvsService>();
      for (const [key, identity] of desired.owned) {
        const service = await this.driver.getService(identity);
        if (service) actual.set(key, service);
      }
      const wanted = new Map(desired.services.map((service) => [serviceKey(service), service]));
      return this.apply(keys, actual, wanted, (chunk) => diffChunk(chunk, wanted), started, reason);
    });
  }

  private async own(desired: DesiredTable): Promise<void> {
    await forEachInChunks(desired.owned, this.chunkSize, ([key, identity]) => this.owned.set(key, identity));
  }

  private async apply(
    keys: string[],
    actual: ReadonlyMap<string, IpvsService>,
    wanted: { has(key: string): boolean },
    diff: (chunk: KernelChunk) => IpvsOperation[] | Promise<IpvsOperation[]>,
    started: number,
    reason: string,
  ): Promise<ReconcileResult> {
    const result: ReconcileResult = { operations: [], operationCount: 0, byKind: {}, failures: [], servicesRead: 0, durationMs: 0 };
    for (let offset = 0; offset < keys.length; offset += this.chunkSize) {
      if (offset > 0) await yieldToEventLoop(); // between chunks, as forEachInChunks does
      const chunk = keys.slice(offset, offset + this.chunkSize);
      // A service about to be deleted needs no destinations read.
      const read = chunk.flatMap((key) => {
        const current = actual.get(key);
        return current && wanted.has(key) ? [current] : [];
      });
      const lists = await this.driver.listDestinationsOf(read);
      read.forEach((service, index) => (service.destinations = lists[index] ?? []));
      result.servicesRead += read.length;
      const operations = await diff(chunk.map((key) => [key, actual.get(key)]));
      if (operations.length === 0) continue;
      const failures = await this.driver.apply(operations);
      result.operations.push(...operations.slice(0, KEPT_OPERATIONS - result.operations.length));
      result.operationCount += operations.length;
      for (const { kind } of operations) result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;
      if (this.logger.isLevelEnabled('debug'))
        for (const operation of operations) this.logger.debug({ event: 'ipvs.operation' }, describeOperation(operation));
      result.failures.push(...failures);
    }
    result.durationMs = Math.round(performance.now() - started);
    this.report(result, reason);
    return result;
  }

  private report(result: ReconcileResult, reason: string): void {
    for (const failure of result.failures) {
      this.logger.error(
        { event: 'ipvs.operation-failed', operation: describeOperation(failure.operation), error: failure.error.message },
        failure.error.message,
      );
    }
    this.logger.info(
      {
        event: 'ipvs.reconciled',
        reason,
        ...result.byKind,
        failures: result.failures.length,
        servicesRead: result.servicesRead,
        durationMs: result.durationMs,
      },
      result.operationCount === 0
        ? `IPVS table already as desired (${reason})`
        : `IPVS table reconciled (${reason}): ${result.operationCount} operations, ${result.failures.length} failed`,
    );
  }
}
