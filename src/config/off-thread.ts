// Loading a configuration in a worker thread, for the daemon: parsing a large file holds
// the thread that runs it for seconds (npm run bench -- big), which on the daemon's event
// loop would make heartbeats late or let the peer take over during a reload. The Model
// is plain data, but 100,000 services of it take seconds to deserialise in one message
// (README "Big configurations"): it comes back in slices the daemon asks for one at a time,
// each deserialised in under a millisecond, with the event loop free in between. A slice's
// services come as JSON: JSON.parse gives each object its properties inside it, where
// structured clone's deserializer put most of them in a second array (1,077 → 732 B a
// service at 100,000 × 2), and their repeated values are then made one (SharedValues).
// On a reload, a service equal to the running model's at its place is that one: the two
// models share what did not change, and the copy just parsed dies young.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ConfigError, type Diagnostic } from './diagnostics.js';
import type { HostFacts } from './host.js';
import type { ConfigFormat } from './frontend.js';
import { startHelperThread, type ThreadRank } from '../lib/helper-thread.js';
import { loaderHeapBytes } from './limits.js';
import { samePlainData } from '../lib/plain-data.js';
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

/** What the daemon asks the worker for when it has taken a slice: the next one. */
export const nextSlice = 'next';

/** Services (or warnings) per slice: about a millisecond of deserialising on the event loop. */
export const sliceSize = 100;

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './load-worker.ts' : './load-worker.js', import.meta.url);

/** What the worker is started with. */
export interface WorkerInput {
  path: string;
  options: OffThreadLoadOptions;
}

type Loaded = { model: Model; warnings: Diagnostic[]; format: ConfigFormat };

/**
 * loadConfig in a worker thread of its own: the same result, or the same ConfigError,
 * settled once the thread has ended. It runs where the daemon's helper threads run
 * (helper-thread.ts: ranked as it starts), or at `rank`. A thread per load, not one kept
 * for the daemon's life: idle, that one held about 10 MB (README "Reload"). `previous`: the
 * services of the running model, whose equal ones the new model takes in place of its own.
 */
export function loadConfigOffThread(
  path: string,
  options: OffThreadLoadOptions = {},
  { rank, previous = [] }: { rank?: ThreadRank; previous?: readonly VirtualService[] } = {},
): Promise<Loaded> {
  let rankShortfall: string | undefined;
  // the heap limit makes a file that needs more memory than the budget fail the load, not the daemon
  const worker = startHelperThread(workerUrl, { path, options } satisfies WorkerInput, {
    resourceLimits: { maxOldGenerationSizeMb: Math.ceil(loaderHeapBytes / 2 ** 20) },
    ...(rank && { rank }),
    // a background load that could not be lowered (a restricted container) is no news
    onRankShortfall: (why, wanted) => (rankShortfall = wanted === 'background' ? undefined : `not at ${JSON.stringify(wanted)}: ${why}`),
  });
  const shortfallWarning = (): Diagnostic[] =>
    rankShortfall === undefined
      ? []
      : [{ severity: 'warning', file: path, line: 0, column: 0, message: `the loader thread runs as started, ${rankShortfall}` }];
  return new Promise<Loaded>((resolve, reject) => {
    let loaded: Loaded | undefined;
    const shared = new SharedValues();
    let settled = false;
    const settle = (finish: () => void) => {
      settled = true;
      void worker.terminate().then(finish);
    };
    worker.on('message', (answer: WorkerAnswer) => {
      switch (answer.kind) {
        case 'head':
          loaded = { model: answer.model, warnings: [...shortfallWarning(), ...answer.warnings], format: answer.format };
          worker.postMessage(nextSlice);
          return;
        case 'slice':
          if (!loaded) return;
          appendSlice(loaded.model.virtualServices, JSON.parse(answer.servicesJson) as VirtualService[], previous, shared);
          for (const warning of answer.warnings) loaded.warnings.push(warning);
          if (answer.last) {
            const result = loaded;
            settle(() => resolve(result));
          } else void yieldToEventLoop().then(() => worker.postMessage(nextSlice));
          return;
        case 'invalid':
          settle(() => reject(new ConfigError(answer.diagnostics, [...shortfallWarning(), ...answer.warnings])));
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

/**
 * Appends a slice's services, each the running model's at its place where equal. With an
 * index, not for-of: when a reload's first changed service deoptimises the loop there is no
 * iterator object to rebuild, and rebuilding one makes V8 finish sweeping the whole old space
 * first, which under --single-threaded-gc nothing else has done: 11–22 ms at 100,000 services.
 */
function appendSlice(
  services: VirtualService[],
  slice: readonly VirtualService[],
  previous: readonly VirtualService[],
  shared: SharedValues,
): void {
  for (let index = 0; index < slice.length; index++) {
    const service = slice[index];
    if (service === undefined) continue;
    const before = previous[services.length];
    services.push(before !== undefined && samePlainData(before, service) ? before : shared.share(service));
  }
}

function workerError(error: Error, path: string): Error {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') return error;
  return new Error(`${path}: loading needs more than the loader's ${Math.round(loaderHeapBytes / 2 ** 20)} MiB of memory`);
}
