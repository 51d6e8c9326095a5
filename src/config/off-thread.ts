// Loading a configuration in a worker thread, for the daemon: parsing a large file holds
// the thread that runs it for up to a few hundred milliseconds at a stretch (npm run bench
// -- config), which on the daemon's event loop would make heartbeats late or, with short
// timers, let the peer take over during a reload. The Model is plain data, so it crosses
// the thread boundary as it is.
import { Worker } from 'node:worker_threads';
import { ConfigError, type Diagnostic } from './diagnostics.js';
import type { HostFacts } from './host.js';
import type { ConfigFormat } from './frontend.js';
import type { Model } from './model.js';

/** What the worker is given: the system's host and service resolvers are its own. */
export interface OffThreadLoadOptions {
  format?: ConfigFormat;
  host?: HostFacts;
}

export type WorkerAnswer =
  | { ok: true; model: Model; warnings: Diagnostic[]; format: ConfigFormat }
  | { ok: false; diagnostics: Diagnostic[]; warnings: Diagnostic[] }
  | { ok: false; message: string };

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './load-worker.ts' : './load-worker.js', import.meta.url);

/** Built, the worker is the .js beside this file; run from the TypeScript sources (benchmarks,
 *  through tsx), a worker does not inherit tsx's loader, so it registers it first. */
function startWorker(workerData: unknown): Worker {
  if (!fromSources) return new Worker(workerUrl, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(workerUrl.href)}))`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** loadConfig in a worker thread: the same result, or the same ConfigError. */
export function loadConfigOffThread(
  path: string,
  options: OffThreadLoadOptions = {},
): Promise<{ model: Model; warnings: Diagnostic[]; format: ConfigFormat }> {
  return new Promise((resolve, reject) => {
    const worker = startWorker({ path, options });
    let answered = false;
    worker.once('message', (answer: WorkerAnswer) => {
      answered = true;
      if (answer.ok) resolve({ model: answer.model, warnings: answer.warnings, format: answer.format });
      else if ('diagnostics' in answer) reject(new ConfigError(answer.diagnostics, answer.warnings));
      else reject(new Error(answer.message));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the configuration loader stopped (exit code ${code}) without an answer`));
    });
  });
}
