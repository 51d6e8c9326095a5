// The IPVS table planner's thread (table-thread.ts starts it): hosts a TablePlan, answers
// each request in order. An error outside a request ends the thread, which the event loop
// counts and logs as a crash.
import { parentPort } from 'node:worker_threads';
import { localTable, type TableSlice, type TableTarget } from './reconcile.js';
import { TablePlan } from './table-plan.js';
import type { PlannerAnswer, PlannerRequest } from './table-protocol.js';
import { keysPerSlice } from './table-protocol.js';

if (parentPort === null) throw new Error('table-worker.ts runs only as the thread of the IPVS table planner');
const port = parentPort;
const plan = new TablePlan();
let table: { target: TableTarget; slices: Iterator<TableSlice> } | undefined;

async function answer(request: Extract<PlannerRequest, { id: number }>): Promise<PlannerAnswer> {
  switch (request.type) {
    case 'desire': {
      const target = localTable(plan.desire(request.role, request.deviations), keysPerSlice);
      table = { target, slices: target.slices()[Symbol.iterator]() };
      return nextSlice(request.id);
    }
    case 'next':
      return nextSlice(request.id);
    case 'diff':
      if (!table) throw new Error('a diff before any desired table');
      return { type: 'operations', id: request.id, operations: await table.target.diff(request.chunk) };
  }
}

function nextSlice(id: number): PlannerAnswer {
  if (!table) throw new Error('a slice before any desired table');
  const next = table.slices.next();
  return next.done ? { type: 'slice', id, owned: [], wanted: [], last: true } : { type: 'slice', id, ...next.value, last: false };
}

// one request at a time, in the order they came
let queue = Promise.resolve();
port.on('message', (request: PlannerRequest) => {
  if (request.type === 'model' || request.type === 'services') plan.copy.receive(request);
  else if (request.type === 'done') queue = queue.then(() => (table = undefined));
  else
    queue = queue.then(async () => {
      try {
        port.postMessage(await answer(request));
      } catch (error) {
        port.postMessage({ type: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error) });
      }
    });
});
