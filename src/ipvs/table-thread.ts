// The IPVS table planner's thread, driven from the event loop: for a big table, the desired
// table and the diff of the kernel's services against it are built on a thread of their own
// (table-worker.ts hosting table-plan.ts), so that neither they nor their garbage are on the
// heap whose collections the event loop waits for (README: Big tables on the event loop).
// The kernel stays here: the thread gets the model (once per model; after a reload only the
// services that changed), the health that differs from the configured weights, and the
// kernel's services a chunk at a time, and answers with the operations. If the thread stops
// unasked it is counted and logged, what waited for it fails with PlannerStopped (the
// balancer then plans on the event loop), and the next request starts a new one; so does a
// thread that does not answer in time.
import type { Worker } from 'node:worker_threads';
import type { HealthView, Model, VirtualService } from '../config/model.js';
import { startHelperThread } from '../lib/helper-thread.js';
import type { IpvsStats } from '../lib/stats.js';
import { TimeSlice } from '../lib/time-slice.js';
import type { Logger } from '../log.js';
import type { IpvsRole } from './desired.js';
import type { KernelChunk } from './diff.js';
import type { TableSlice, TableTarget } from './reconcile.js';
import { addDeviations, type HealthDeviations } from './table-plan.js';
import { sendModel } from './model-transfer.js';
import type { PlannerAnswer, PlannerRequest } from './table-protocol.js';

/** The planner's thread stopped (or was closed) before it answered. */
export class PlannerStopped extends Error {}

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './table-worker.ts' : './table-worker.js', import.meta.url);

/** The planner's thread as TableThread starts it by default: where the daemon's helper threads run. */
export const startPlannerThread = (): Worker => startHelperThread(workerUrl, undefined);

export interface TableThreadOptions {
  logger: Logger;
  stats: IpvsStats;
  /** How a thread is started (tests start one that fails). */
  start?: () => Worker;
  /** A thread that has not answered a request by then is ended, as if it had crashed
   *  (default ANSWER_WITHIN_MS): a claim must not wait on a thread that hangs. */
  answerWithinMs?: number;
}

/** Each request is milliseconds of work (the desired table of 100,000 services, under a second). */
export const ANSWER_WITHIN_MS = 10_000;

type Request = Extract<PlannerRequest, { id: number }>;
type Sent = { model: Model; done: Promise<void>; complete: boolean };

export class TableThread {
  private worker: Worker | undefined;
  /** The model the thread has (complete), or is being sent. */
  private sent: Sent | undefined;
  private readonly waiting = new Map<number, { resolve: (answer: PlannerAnswer) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private readonly start: () => Worker;

  constructor(private readonly options: TableThreadOptions) {
    this.start = options.start ?? startPlannerThread;
  }

  /** Gives the thread `model` (started if need be), its services a slice per turn of the
   *  event loop; resolves once all are sent, or at once when it has it already. After a
   *  reload only the services that changed go over: the thread keeps the rest. */
  prepare(model: Model): Promise<void> {
    if (this.sent?.model === model && this.worker) return this.sent.done;
    const previous = this.sent?.complete ? this.sent.model.virtualServices : [];
    const worker = this.running();
    const sent: Sent = { model, done: Promise.resolve(), complete: false };
    this.sent = sent;
    sent.done = this.send(worker, sent, previous);
    return sent.done;
  }

  /** The whole table of `model` for `role` with the real servers' `health` (absent: as
   *  configured), planned on the thread. */
  async target(model: Model, role: IpvsRole, health?: HealthView): Promise<TableTarget> {
    await this.prepare(model);
    const deviations: HealthDeviations = [];
    if (role === 'active' && health) {
      const slice = new TimeSlice();
      for (const [index, service] of model.virtualServices.entries()) {
        if (slice.spent) await slice.next();
        addDeviations(deviations, index, service, health);
      }
    }
    const first = await this.slice({ type: 'desire', id: 0, role, deviations });
    return {
      slices: async function* (this: TableThread) {
        for (let slice = first; ; slice = await this.slice({ type: 'next', id: 0 })) {
          yield slice;
          if (slice.last) return;
        }
      }.bind(this),
      diff: async (chunk: KernelChunk) => {
        const answer = await this.request({ type: 'diff', id: 0, chunk });
        if (answer.type !== 'operations') throw new Error(`the IPVS table planner answered a diff with ${answer.type}`);
        return answer.operations;
      },
      done: () => this.worker?.postMessage({ type: 'done' } satisfies PlannerRequest),
    };
  }

  /** Ends the thread; what waits for it fails with PlannerStopped. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.forget(new PlannerStopped('the IPVS table planner was closed'));
    await worker?.terminate();
  }

  private async slice(request: Request): Promise<TableSlice & { last: boolean }> {
    const answer = await this.request(request);
    if (answer.type !== 'slice') throw new Error(`the IPVS table planner answered ${request.type} with ${answer.type}`);
    return answer;
  }

  private request(request: Request): Promise<PlannerAnswer> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new PlannerStopped('the IPVS table planner is not running'));
    const id = this.nextId++;
    const within = this.options.answerWithinMs ?? ANSWER_WITHIN_MS;
    const deadline = setTimeout(() => {
      this.stopped(worker, `no answer to ${request.type} within ${within} ms`);
      void worker.terminate();
    }, within);
    deadline.unref();
    return new Promise<PlannerAnswer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } satisfies PlannerRequest);
    }).then(
      (answer) => {
        clearTimeout(deadline);
        if (answer.type === 'failed') throw new Error(`the IPVS table planner: ${answer.message}`);
        return answer;
      },
      (error: unknown) => {
        clearTimeout(deadline);
        throw error;
      },
    );
  }

  /** Sends `sent.model` to a thread that has `previous`, unless a newer model or thread makes it moot. */
  private async send(worker: Worker, sent: Sent, previous: readonly VirtualService[]): Promise<void> {
    const all = await sendModel(
      (message) => worker.postMessage(message),
      sent.model,
      previous,
      () => this.worker === worker && this.sent === sent,
    );
    if (this.worker !== worker) throw new PlannerStopped('the IPVS table planner stopped while it was given its model');
    if (all) sent.complete = true;
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = this.start();
    this.worker = worker;
    // the planner is no reason to keep the process alive
    worker.unref();
    worker.on('message', (answer: PlannerAnswer) => {
      const waiting = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      waiting?.resolve(answer);
    });
    worker.once('error', (error) => this.stopped(worker, error.message, error));
    worker.once('exit', (code) => this.stopped(worker, `exit code ${code}`));
    return worker;
  }

  private stopped(worker: Worker, why: string, error?: Error): void {
    if (this.worker !== worker) return;
    this.options.stats.plannerCrashes.inc();
    this.options.logger.error(
      { event: 'ipvs.planner-crashed', why, ...(error && { err: error }) },
      `the IPVS table planner's thread stopped (${why}): the table is planned on the event loop until the next whole-table reconcile starts it again`,
    );
    this.forget(new PlannerStopped(`the IPVS table planner's thread stopped (${why})`));
  }

  private forget(reason: PlannerStopped): void {
    this.worker = undefined;
    this.sent = undefined;
    for (const { reject } of this.waiting.values()) reject(reason);
    this.waiting.clear();
  }
}
