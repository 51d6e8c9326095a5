// The worker thread of loadConfigOffThread (off-thread.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, loadConfig } from './index.js';
import type { OffThreadLoadOptions, WorkerAnswer } from './off-thread.js';

const { path, options } = workerData as { path: string; options: OffThreadLoadOptions };

async function answer(): Promise<WorkerAnswer> {
  try {
    const { model, warnings, format } = await loadConfig(path, options);
    return { ok: true, model, warnings, format };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, diagnostics: error.diagnostics, warnings: error.warnings };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

if (parentPort === null) throw new Error('load-worker.ts runs only as the worker of loadConfigOffThread');
parentPort.postMessage(await answer());
