// The worker thread of loadConfigOffThread (off-thread.ts): loads, then hands the Model
// over in slices, one per request, so that no single message is long to deserialise.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { loaderNice, nextSlice, sliceSize, type LoaderRank, type WorkerAnswer, type WorkerInput } from './off-thread.js';
import type { Diagnostic } from './diagnostics.js';
import type { VirtualService } from './model.js';

const { path, options, rank } = workerData as WorkerInput;

/** Ranks this thread (os.setPriority and chrt act on one thread on Linux); says why it could not. */
function rankThread(wanted: LoaderRank): string | undefined {
  try {
    if (wanted === 'background') setPriority(loaderNice);
    else if (typeof wanted === 'object' && 'nice' in wanted) setPriority(wanted.nice);
    else if (typeof wanted === 'object') {
      const thread = readlinkSync('/proc/thread-self').split('/').pop() ?? '';
      execFileSync('chrt', ['--rr', '--pid', String(wanted.realtime), thread], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return e.stderr?.toString().trim() || e.message;
  }
}

// Before the loader's modules are read: reading them is much of a small file's load.
const rankShortfall = rankThread(rank);
const { ConfigError, loadConfig } = await import('./index.js');

if (parentPort === null) throw new Error('load-worker.ts runs only as the worker of loadConfigOffThread');
const port = parentPort;
const send = (answer: WorkerAnswer) => port.postMessage(answer);

try {
  const { model, warnings, format } = await loadConfig(path, options);
  const services: VirtualService[] = model.virtualServices;
  const pending: Diagnostic[] = warnings;
  // a background load that could not be lowered (a restricted container) is no news
  if (rankShortfall !== undefined && rank !== 'background')
    pending.unshift({
      severity: 'warning',
      file: path,
      line: 0,
      column: 0,
      message: `the loader thread runs as started, not at ${JSON.stringify(rank)}: ${rankShortfall}`,
    });
  send({ kind: 'head', model: { ...model, virtualServices: [] }, warnings: [], format, services: services.length });
  let offset = 0;
  port.on('message', (request) => {
    if (request !== nextSlice) return;
    const end = offset + sliceSize;
    const last = end >= services.length && end >= pending.length;
    send({ kind: 'slice', servicesJson: JSON.stringify(services.slice(offset, end)), warnings: pending.slice(offset, end), last });
    offset = end;
    if (last) port.close();
  });
} catch (error) {
  if (error instanceof ConfigError) send({ kind: 'invalid', diagnostics: error.diagnostics, warnings: error.warnings });
  else send({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
}
