// The Balancer on a thread of its own, for big tables: the IpvsBalancer, its health monitor
// and the kernel's IPVS socket run in balancer-worker.ts, so that what grows with the table
// (the health state, the table as read back, the planning and its garbage) is on a heap
// whose collections the event loop, which sends the heartbeats, never waits for. The event
// loop keeps the model (the daemon's) and what the calls need; the thread gets the model as
// model-transfer.ts sends it, and sends back its logs, its counts and status. A thread that
// stops unasked is counted and logged, and started again with the model and role it had.
import type { Worker } from 'node:worker_threads';
import { levels } from 'pino';
import type { SyncRole } from '../cluster/index.js';
import type { Model, NodeSpec } from '../config/model.js';
import { addToGroup } from '../lib/counters.js';
import { JsonRows } from '../lib/json-chunks.js';
import { startHelperThread, steadyHelperRank } from '../lib/helper-thread.js';
import { SerialQueue } from '../lib/serial-queue.js';
import type { Stats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import type { Balancer, BalancerStatus, ServiceStatus } from './balancer.js';
import type { BalancerAnswer, BalancerCall, BalancerThreadSettings } from './balancer-protocol.js';
import { sendModel } from './model-transfer.js';

/** From this many services `tandem run` runs the balancer on a thread of its own (README: Big tables). */
export const BALANCER_THREAD_SERVICES = 10_000;

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './balancer-worker.ts' : './balancer-worker.js', import.meta.url);

/** The balancer's thread as BalancerThread starts it by default (steadyHelperRank). */
export const startBalancerWorker = (): Worker => startHelperThread(workerUrl, undefined, { rank: steadyHelperRank() });

export interface BalancerThreadOptions {
  model: Model;
  self: NodeSpec;
  logger: Logger;
  /** Where the thread's counts are added. */
  stats: Pick<Stats, 'ipvs' | 'health'>;
  settings?: BalancerThreadSettings;
  /** A module exporting openKernel and runCheck, in place of the kernel's IPVS and real checks (tests, benchmarks). */
  parts?: URL;
  /** How the thread is started (tests start one that fails). */
  start?: () => Worker;
  /** How long after a thread stopped a new one is started (default RESTART_AFTER_MS). */
  restartAfterMs?: number;
}

/** A thread that stops at once again is started again this much later, not in a loop. */
export const RESTART_AFTER_MS = 1000;

/** The thread stopped (or was closed) before it answered. */
class BalancerStopped extends Error {}

type Call = BalancerCall extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

export class BalancerThread implements Balancer {
  private worker: Worker | undefined;
  /** The model the thread has or is being sent, and whether it has it whole. */
  private sent: { model: Model; complete: boolean } | undefined;
  private readonly waiting = new Map<number, { resolve: (answer: BalancerAnswer) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  /** The Balancer's calls, one after another: a model's slices never cross a call. */
  private readonly calls = new SerialQueue();
  /** What the thread must have, to start a new one as the last left off. */
  private model: Model;
  private active = false;
  private syncRole: SyncRole | undefined;
  private restarted: Promise<void> | undefined;
  private closed = false;
  private readonly logger: Logger;

  private constructor(
    model: Model,
    private readonly options: Omit<BalancerThreadOptions, 'model'>,
  ) {
    this.model = model;
    this.logger = options.logger.child({ component: 'balancer' });
  }

  /** Starts the thread and creates its balancer (health checks planned, no kernel state touched). */
  static async start({ model, ...options }: BalancerThreadOptions): Promise<BalancerThread> {
    const thread = new BalancerThread(model, options);
    await thread.begin();
    return thread;
  }

  activate(): Promise<void> {
    return this.call(
      () => {
        this.active = true;
      },
      { type: 'activate' },
    );
  }

  deactivate(): Promise<void> {
    return this.call(
      () => {
        this.active = false;
      },
      { type: 'deactivate' },
    );
  }

  setSyncRole(role: SyncRole): Promise<void> {
    return this.call(
      () => {
        this.syncRole = role;
      },
      { type: 'sync-role', role },
    );
  }

  reload(model: Model): Promise<void> {
    return this.call(
      async () => {
        this.model = model;
        await this.send(model);
      },
      { type: 'reload' },
    );
  }

  async close(): Promise<void> {
    await this.calls.run(async () => {
      if (this.closed) return;
      await this.request({ type: 'close' }).catch(() => undefined);
      this.closed = true;
      const worker = this.worker;
      this.forget(new BalancerStopped('the balancer thread was closed'));
      await worker?.terminate();
    });
  }

  /** The thread's status; its services come as the thread's JSON, a slice at a time as
   *  they are read (by the control socket as it writes them). */
  async status(): Promise<BalancerStatus<JsonRows<ServiceStatus>>> {
    await this.restarted;
    const answer = await this.request({ type: 'status' });
    if (answer.type !== 'status' || !answer.head) throw new Error(`the balancer thread answered status with ${answer.type}`);
    if (answer.services === undefined) return answer.head;
    const { id, rows, last } = answer;
    return { ...answer.head, services: new JsonRows(answer.services, () => this.statusRows(id, rows, last)) };
  }

  /** The services of the status asked for as `of`, from its first slice on. */
  private async *statusRows(of: number, first: string, last: boolean): AsyncGenerator<string> {
    let done = last;
    try {
      yield first;
      while (!done) {
        const answer = await this.request({ type: 'status-next', of });
        if (answer.type !== 'status') throw new Error(`the balancer thread answered status with ${answer.type}`);
        done = answer.last;
        yield answer.rows;
      }
    } finally {
      // a reader that stops (the client went away) lets the thread's copy go
      if (!done) void this.request({ type: 'status-drop', of }).catch(() => undefined);
    }
  }

  // ---- the thread ----

  /** Runs a call after the ones before it: `remember` what the thread must have, then ask it.
   *  A thread that stops meanwhile is started again with it, and the call is done with that. */
  private call(remember: () => void | Promise<void>, call: Call): Promise<void> {
    return this.calls.run(async () => {
      if (this.closed) return;
      await this.restarted;
      try {
        await remember();
        await this.request(call);
      } catch (error) {
        if (!(error instanceof BalancerStopped)) throw error;
        await this.restarted;
      }
    });
  }

  /** A thread with the model, its balancer created, in the role and sync role asked for last. */
  private async begin(): Promise<void> {
    this.running();
    await this.send(this.model);
    await this.request({
      type: 'create',
      self: this.options.self,
      logLevel: this.options.logger.level,
      settings: this.options.settings ?? {},
      ...(this.options.parts && { parts: this.options.parts.href }),
    });
    if (this.syncRole) await this.request({ type: 'sync-role', role: this.syncRole });
    if (this.active) await this.request({ type: 'activate' });
  }

  /** Sends `model` to the thread, only what changed since the model it has whole. */
  private async send(model: Model): Promise<void> {
    const worker = this.worker;
    if (!worker) throw new BalancerStopped('the balancer thread is not running');
    const previous = this.sent?.complete ? this.sent.model.virtualServices : [];
    const sent = { model, complete: false };
    this.sent = sent;
    sent.complete = await sendModel(
      (message) => worker.postMessage(message),
      model,
      previous,
      () => this.worker === worker,
    );
    if (!sent.complete) throw new BalancerStopped('the balancer thread stopped while it was given its model');
  }

  private request(call: Call): Promise<BalancerAnswer> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new BalancerStopped('the balancer thread is not running'));
    const id = this.nextId++;
    return new Promise<BalancerAnswer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...call, id });
    }).then((answer) => {
      if (answer.type === 'failed') throw new Error(`the balancer thread: ${answer.message}`);
      return answer;
    });
  }

  private running(): Worker {
    const worker = (this.options.start ?? startBalancerWorker)();
    this.worker = worker;
    this.sent = undefined;
    // the daemon's own handles keep the process; a balancer left open must not
    worker.unref();
    worker.on('message', (answer: BalancerAnswer) => this.received(answer));
    worker.once('error', (error) => this.stopped(worker, error.message, error));
    worker.once('exit', (code) => this.stopped(worker, `exit code ${code}`));
    return worker;
  }

  private received(answer: BalancerAnswer): void {
    switch (answer.type) {
      case 'logs':
        for (const line of answer.lines) this.log(line);
        return;
      case 'counted':
        if (answer.ipvs) addToGroup(this.options.stats.ipvs, answer.ipvs);
        if (answer.health) addToGroup(this.options.stats.health, answer.health);
        return;
      default: {
        const waiting = this.waiting.get(answer.id);
        this.waiting.delete(answer.id);
        waiting?.resolve(answer);
      }
    }
  }

  /** A line pino wrote on the thread, written by the daemon's logger (its bindings, format, destination). */
  private log(line: string): void {
    const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
    const method = (levels.labels[level] ?? 'info') as 'info';
    this.options.logger[method](fields, msg);
  }

  private stopped(worker: Worker, why: string, error?: Error): void {
    if (this.worker !== worker) return;
    this.forget(new BalancerStopped(`the balancer thread stopped (${why})`));
    if (this.closed) return;
    this.options.stats.ipvs.balancerCrashes.inc();
    const restartAfterMs = this.options.restartAfterMs ?? RESTART_AFTER_MS;
    this.logger.error(
      { event: 'ipvs.balancer-crashed', why, ...(error && { err: error }) },
      `the balancer's thread stopped (${why}): it starts again in ${restartAfterMs} ms with the model and role it had`,
    );
    this.restarted = new Promise<void>((resolve) => setTimeout(resolve, restartAfterMs)).then(async () => {
      if (this.closed) return;
      try {
        await this.begin();
      } catch (error) {
        // a new thread's own stop was logged, and starts the next
        if (error instanceof BalancerStopped) return;
        this.logger.error(
          { event: 'ipvs.balancer-restart-failed', err: error },
          `the balancer's thread could not start again: ${(error as Error).message}; it is ended and started again`,
        );
        // a thread without its balancer would fail every call: ended, it stops as any other and starts the next
        void this.worker?.terminate();
      }
    });
  }

  private forget(reason: BalancerStopped): void {
    this.worker = undefined;
    this.sent = undefined;
    for (const { reject } of this.waiting.values()) reject(reason);
    this.waiting.clear();
  }
}
