// Loading a configuration in a worker thread, for the daemon: parsing a large file holds
// the thread that runs it for seconds (npm run bench -- big), which on the daemon's event
// loop would make heartbeats late or let the peer take over during a reload. The Model
// is plain data, but 100,000 services of it take seconds to deserialise in one message
// (README "Big configurations"): it comes back in slices the daemon asks for one at a time,
// each deserialised in under a millisecond, with the event loop free in between. A slice's
// services come as JSON: JSON.parse gives each object its properties inside it, where
// structured clone's deserializer put most of them in a second array (1,077 → 732 B a
// service at 100,000 × 2), and their repeated values are then made one (SharedValues).
import type { Worker } from 'node:worker_threads';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ConfigError, type Diagnostic } from './diagnostics.js';
import type { HostFacts } from './host.js';
import type { ConfigFormat } from './frontend.js';
import { backgroundNice, startHelperThread, type ThreadRank } from '../lib/helper-thread.js';
import { loaderHeapBytes } from './limits.js';
import type { Model, VirtualService } from './model.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { SharedValues } from './shared-values.js';

/** What the worker is given: the system's host and service resolvers are its own. */
export interface OffThreadLoadOptions {
  format?: ConfigFormat;
  host?: HostFacts;
}

/** The worker's messages: the head (the Model without its services), then one slice per
 *  `next` request until `last`; or the reason there is no Model. */
export type WorkerAnswer =
  | { kind: 'head'; model: Model; warnings: Diagnostic[]; format: ConfigFormat; services: number }
  | { kind: 'slice'; servicesJson: string; warnings: Diagnostic[]; last: boolean }
  | { kind: 'invalid'; diagnostics: Diagnostic[]; warnings: Diagnostic[] }
  | { kind: 'failed'; message: string };

/** What the daemon asks the worker for when it has taken a slice: the next one. */
export const nextSlice = 'next';

/** The loader's nice value beside an event loop at normal priority (helper-thread.ts). */
export const loaderNice = backgroundNice;

/** Where the loader thread runs: as the daemon's other helper threads (helper-thread.ts). */
export type LoaderRank = ThreadRank;

/** Services (or warnings) per slice: about a millisecond of deserialising on the event loop. */
export const sliceSize = 250;

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './load-worker.ts' : './load-worker.js', import.meta.url);

/** The heap limit makes a file that needs more memory than the budget fail the load, not the daemon. */
function startWorker(workerData: unknown): Worker {
  return startHelperThread(workerUrl, workerData, { maxOldGenerationSizeMb: Math.ceil(loaderHeapBytes / 2 ** 20) });
}

/** What the worker is started with: how it ranks its thread before it reads the loader's modules. */
export interface WorkerInput {
  rank: LoaderRank;
}

/** What the daemon asks the worker: a load, the next slice of it, another rank. */
export type LoaderRequest =
  { kind: 'load'; path: string; options: OffThreadLoadOptions } | typeof nextSlice | { kind: 'rank'; rank: LoaderRank };

type Loaded = { model: Model; warnings: Diagnostic[]; format: ConfigFormat };

/**
 * The loader's thread, started once and reused for every load. A thread started per reload
 * stalled the event loop in a chaos run (a real-time daemon's timer 290 ms late): it began at
 * normal scheduling (reset-on-fork) until its isolate was up, and Node joins a worker's
 * thread when it ends. Started before the daemon ranks its threads, it gets their rank with
 * the others; nothing is started or joined at a reload. A thread that stops (a file over
 * the loader's heap budget) is started again by the next load.
 */
export class ConfigLoaderThread {
  private worker: Worker | undefined;
  private readonly queue = new SerialQueue();

  constructor(private rank: LoaderRank = 'background') {}

  /** Starts the thread now (the daemon, before it ranks its threads); load does if need be. */
  start(): void {
    this.running();
  }

  /** loadConfig on the thread: the same result, or the same ConfigError. One at a time. */
  load(path: string, options: OffThreadLoadOptions = {}): Promise<Loaded> {
    return this.queue.run(() => this.loadOnce(path, options));
  }

  /** Ranks the thread (from the next load on, if one runs). */
  rerank(rank: LoaderRank): void {
    this.rank = rank;
    this.worker?.postMessage({ kind: 'rank', rank } satisfies LoaderRequest);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker({ rank: this.rank } satisfies WorkerInput);
    // idle, it does not keep the process alive
    worker.unref();
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }

  private loadOnce(path: string, options: OffThreadLoadOptions): Promise<Loaded> {
    const worker = this.running();
    return new Promise<Loaded>((resolve, reject) => {
      let loaded: Loaded | undefined;
      const shared = new SharedValues();
      const settle = (finish: () => void) => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        worker.unref();
        finish();
      };
      const onMessage = (answer: WorkerAnswer) => {
        switch (answer.kind) {
          case 'head':
            loaded = { model: answer.model, warnings: answer.warnings, format: answer.format };
            worker.postMessage(nextSlice satisfies LoaderRequest);
            return;
          case 'slice':
            if (!loaded) return;
            for (const service of JSON.parse(answer.servicesJson) as VirtualService[])
              loaded.model.virtualServices.push(shared.share(service));
            for (const warning of answer.warnings) loaded.warnings.push(warning);
            if (answer.last) {
              const result = loaded;
              settle(() => resolve(result));
            } else void yieldToEventLoop().then(() => worker.postMessage(nextSlice satisfies LoaderRequest));
            return;
          case 'invalid':
            settle(() => reject(new ConfigError(answer.diagnostics, answer.warnings)));
            return;
          case 'failed':
            settle(() => reject(new Error(answer.message)));
        }
      };
      const onError = (error: Error) => settle(() => reject(workerError(error, path)));
      const onExit = (code: number) =>
        settle(() => reject(new Error(`the configuration loader stopped (exit code ${code}) without an answer`)));
      worker.on('message', onMessage).once('error', onError).once('exit', onExit);
      // while it loads, the answer keeps the process alive (the daemon's start has nothing else yet)
      worker.ref();
      worker.postMessage({ kind: 'load', path, options } satisfies LoaderRequest);
    });
  }
}

/**
 * loadConfig in a worker thread of its own, ended after: the same result, or the same
 * ConfigError. The worker runs at `rank` (default background).
 */
export async function loadConfigOffThread(
  path: string,
  options: OffThreadLoadOptions = {},
  { rank = 'background' }: { rank?: LoaderRank } = {},
): Promise<Loaded> {
  const loader = new ConfigLoaderThread(rank);
  try {
    return await loader.load(path, options);
  } finally {
    await loader.close();
  }
}

function workerError(error: Error, path: string): Error {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') return error;
  return new Error(`${path}: loading needs more than the loader's ${Math.round(loaderHeapBytes / 2 ** 20)} MiB of memory`);
}
