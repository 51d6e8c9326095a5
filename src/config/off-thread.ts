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

/** What the daemon asks the worker for: the next slice. */
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

/** What the worker is started with. */
export interface WorkerInput {
  path: string;
  options: OffThreadLoadOptions;
  /** How the worker ranks its thread before it loads. */
  rank: LoaderRank;
}

/**
 * loadConfig in a worker thread: the same result, or the same ConfigError. The worker runs
 * at `rank` (default background); the daemon's start loads as started: nothing runs yet that
 * the load could delay, and on a busy host a niced loader waited minutes for the CPU.
 */
export function loadConfigOffThread(
  path: string,
  options: OffThreadLoadOptions = {},
  { rank = 'background' }: { rank?: LoaderRank } = {},
): Promise<{ model: Model; warnings: Diagnostic[]; format: ConfigFormat }> {
  return new Promise((resolve, reject) => {
    const worker = startWorker({ path, options, rank } satisfies WorkerInput);
    let settled = false;
    let loaded: { model: Model; warnings: Diagnostic[]; format: ConfigFormat } | undefined;
    const shared = new SharedValues();
    const settle = (finish: () => void) => {
      settled = true;
      finish();
      void worker.terminate();
    };
    worker.on('message', (answer: WorkerAnswer) => {
      switch (answer.kind) {
        case 'head':
          loaded = { model: answer.model, warnings: answer.warnings, format: answer.format };
          worker.postMessage(nextSlice);
          return;
        case 'slice':
          if (!loaded) return;
          for (const service of JSON.parse(answer.servicesJson) as VirtualService[])
            loaded.model.virtualServices.push(shared.share(service));
          for (const warning of answer.warnings) loaded.warnings.push(warning);
          if (answer.last) {
            const result = loaded;
            settle(() => resolve(result));
          } else void yieldToEventLoop().then(() => worker.postMessage(nextSlice));
          return;
        case 'invalid':
          settle(() => reject(new ConfigError(answer.diagnostics, answer.warnings)));
          return;
        case 'failed':
          settle(() => reject(new Error(answer.message)));
      }
    });
    worker.once('error', (error) => {
      if (!settled) settle(() => reject(workerError(error, path)));
    });
    worker.once('exit', (code) => {
      if (!settled) settle(() => reject(new Error(`the configuration loader stopped (exit code ${code}) without an answer`)));
    });
  });
}

function workerError(error: Error, path: string): Error {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') return error;
  return new Error(`${path}: loading needs more than the loader's ${Math.round(loaderHeapBytes / 2 ** 20)} MiB of memory`);
}
