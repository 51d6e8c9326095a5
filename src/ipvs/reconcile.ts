// Brings the kernel's IPVS table to the desired one: read what is there, diff, apply.
// A claim or a repair reconciles the whole table; a reload the services it changed
// (or the whole table), a health change the one service it affects. Large tables are handled in chunks with a yield to the event
// loop between them, so heartbeats sharing the loop are never held up for long.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { DesiredTable } from './desired.js';
import { diffService } from './diff.js';
import { describeOperation, type IpvsDriver, type IpvsOperation, type OperationFailure } from './operations.js';
import { forEachInChunks } from './chunks.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { serviceKey, type IpvsService, type ServiceIdentity } from './table.js';

export interface ReconcileResult {
  /** Applied or attempted, in order. */
  operations: IpvsOperation[];
  /** How many operations of each kind: tallied a chunk at a time, as a claim of a big table
   *  is hundreds of thousands of them (counting them at the end held the loop 5–15 ms). */
  byKind: OperationCounts;
  failures: OperationFailure[];
  /** Kernel services whose destinations were read. */
  servicesRead: number;
  durationMs: number;
}

export type OperationCounts = Partial<Record<IpvsOperation['kind'], number>>;

export interface ReconcilerOptions {
  /** Services diffed and applied between two yields to the event loop. */
  chunkSize?: number;
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
    return this.queue.run(async () => {
      const started = performance.now();
      await this.own(desired);
      // whole tables: Maps of 100,000 would each rehash for 5–12 ms when they double
      const actual = new ShardedMap<IpvsService>();
      await forEachInChunks(await this.driver.listServices(), this.chunkSize, (service) => {
        const key = serviceKey(service);
        if (this.owned.has(key)) actual.set(key, service);
      });
      const wanted = new ShardedMap<IpvsService>();
      const keys: string[] = [];
      await forEachInChunks(desired.services, this.chunkSize, (service) => {
        const key = serviceKey(service);
        wanted.set(key, service);
        keys.push(key);
      });
      // Deletions last, after every addition and edit.
      await forEachInChunks(actual.keys(), this.chunkSize, (key) => {
        if (!wanted.has(key)) keys.push(key);
      });
      return this.apply(keys, actual, wanted, started, reason);
    });
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
      return this.apply(keys, actual, wanted, started, reason);
    });
  }

  private async own(desired: DesiredTable): Promise<void> {
    await forEachInChunks(desired.owned, this.chunkSize, ([key, identity]) => this.owned.set(key, identity));
  }

  private async apply(
    keys: string[],
    actual: ReadonlyMap<string, IpvsService>,
    wanted: ReadonlyMap<string, IpvsService>,
    started: number,
    reason: string,
  ): Promise<ReconcileResult> {
    const result: ReconcileResult = { operations: [], byKind: {}, failures: [], servicesRead: 0, durationMs: 0 };
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
      const operations: IpvsOperation[] = [];
      for (const key of chunk) operations.push(...diffService(actual.get(key), wanted.get(key)));
      if (operations.length === 0) continue;
      const failures = await this.driver.apply(operations);
      result.operations.push(...operations);
      for (const { kind } of operations) result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;
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
    if (this.logger.isLevelEnabled('debug')) {
      for (const operation of result.operations) this.logger.debug({ event: 'ipvs.operation' }, describeOperation(operation));
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
      result.operations.length === 0
        ? `IPVS table already as desired (${reason})`
        : `IPVS table reconciled (${reason}): ${result.operations.length} operations, ${result.failures.length} failed`,
    );
  }
}
