// The thread of loadConfigOffThread (off-thread.ts): loads its file, then hands the Model
// over in slices, one per request, so that no single message is long to deserialise.
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, type Diagnostic } from './diagnostics.js';
import { loadConfig } from './load.js';
import { nextSlice, sliceSize, type WorkerAnswer, type WorkerInput } from './off-thread.js';
import type { VirtualService } from './model.js';

const { path, options } = workerData as WorkerInput;

if (parentPort === null) throw new Error('load-worker.ts runs only as the thread of loadConfigOffThread');
const port = parentPort;
const send = (answer: WorkerAnswer) => port.postMessage(answer);

try {
  const { model, warnings, format } = await loadConfig(path, options);
  const services: VirtualService[] = model.virtualServices;
  const pending: Diagnostic[] = warnings;
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
