// The thread of ConfigLoaderThread (off-thread.ts): loads what it is asked, one file at a
// time, and hands each Model over in slices, one per request, so that no single message is
// long to deserialise. It lives as long as the daemon: between loads it keeps no Model.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { rankThisThread } from '../lib/helper-thread.js';
import { nextSlice, sliceSize, type LoaderRequest, type WorkerAnswer, type WorkerInput } from './off-thread.js';
import type { Diagnostic } from './diagnostics.js';
import type { LoaderRank } from './off-thread.js';
import type { VirtualService } from './model.js';

const { rank: startedAt } = workerData as WorkerInput;

/** Why the thread does not run where it was asked to, for the next load's warnings. */
let rankShortfall: { rank: LoaderRank; why: string } | undefined;
function rank(wanted: LoaderRank): void {
  const why = rankThisThread(wanted);
  rankShortfall = why === undefined ? undefined : { rank: wanted, why };
}

// Before the loader's modules are read: reading them is much of the first load.
rank(startedAt);
const { ConfigError, loadConfig } = await import('./index.js');

// A big file's garbage (hundreds of MB) would otherwise stay until the next load: this
// isolate is idle between loads, and the daemon runs without V8's memory reducer.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

if (parentPort === null) throw new Error('load-worker.ts runs only as the thread of ConfigLoaderThread');
const port = parentPort;
const send = (answer: WorkerAnswer) => port.postMessage(answer);

/** The slices of the load being handed over. */
let handing: { services: VirtualService[]; pending: Diagnostic[]; offset: number } | undefined;

async function load(path: string, options: Parameters<typeof loadConfig>[1]): Promise<void> {
  try {
    const { model, warnings, format } = await loadConfig(path, options);
    // a background load that could not be lowered (a restricted container) is no news
    if (rankShortfall !== undefined && rankShortfall.rank !== 'background')
      warnings.unshift({
        severity: 'warning',
        file: path,
        line: 0,
        column: 0,
        message: `the loader thread runs as started, not at ${JSON.stringify(rankShortfall.rank)}: ${rankShortfall.why}`,
      });
    handing = { services: model.virtualServices, pending: warnings, offset: 0 };
    send({ kind: 'head', model: { ...model, virtualServices: [] }, warnings: [], format, services: model.virtualServices.length });
  } catch (error) {
    if (error instanceof ConfigError) send({ kind: 'invalid', diagnostics: error.diagnostics, warnings: error.warnings });
    else send({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
    collectGarbage();
  }
}

function nextOf(current: NonNullable<typeof handing>): void {
  const { services, pending, offset } = current;
  const end = offset + sliceSize;
  const last = end >= services.length && end >= pending.length;
  send({ kind: 'slice', servicesJson: JSON.stringify(services.slice(offset, end)), warnings: pending.slice(offset, end), last });
  current.offset = end;
  if (!last) return;
  handing = undefined;
  collectGarbage();
}

port.on('message', (request: LoaderRequest) => {
  if (request === nextSlice) {
    if (handing) nextOf(handing);
  } else if (request.kind === 'rank') rank(request.rank);
  else void load(request.path, request.options);
});
