// The balancer's thread (balancer-thread.ts starts it): an IpvsBalancer with its health
// monitor and the kernel's IPVS socket, on a heap of its own. Its logs and counters go to
// the event loop, which writes and holds them. An error outside a call ends the thread,
// which the event loop counts, logs and starts again.
import { setImmediate } from 'node:timers';
import { parentPort } from 'node:worker_threads';
import { pino } from 'pino';
import { HealthMonitor, type HealthMonitorOptions } from '../health/index.js';
import { GroupIncrements } from '../lib/counters.js';
import { createStats } from '../lib/stats.js';
import type { ServiceStatus } from './balancer.js';
import type { BalancerAnswer, BalancerCall, BalancerRequest } from './balancer-protocol.js';
import { statusServicesPerSlice } from './balancer-protocol.js';
import { IpvsBalancer, type IpvsKernel } from './ipvs-balancer.js';
import { ModelCopy } from './model-transfer.js';

if (parentPort === null) throw new Error('balancer-worker.ts runs only as the balancer thread');
const port = parentPort;
const post = (answer: BalancerAnswer) => port.postMessage(answer);

/** How often what was counted goes to the event loop, besides with every answer. */
const countedEveryMs = 1000;

const copy = new ModelCopy();
const stats = createStats();
const increments = { ipvs: new GroupIncrements(stats.ipvs), health: new GroupIncrements(stats.health) };
let lines: string[] = [];
/** The balancer, once created. */
let balancer: Promise<IpvsBalancer> | undefined;
/** Status services not yet asked for, by the id of the status call: the list and where the next slice starts. */
const statusServices = new Map<number, { services: ServiceStatus[]; next: number }>();
/** Statuses being read at once, at most: each holds its table here until its last slice
 *  is asked for, and a client that stops reading would otherwise hold it for good. */
const readingAtMost = 4;

function flushLines(): void {
  if (lines.length === 0) return;
  post({ type: 'logs', lines });
  lines = [];
}

function sendCounted(): void {
  const ipvs = increments.ipvs.take();
  const health = increments.health.take();
  if (ipvs || health) post({ type: 'counted', ...(ipvs && { ipvs }), ...(health && { health }) });
}
setInterval(sendCounted, countedEveryMs).unref();

/** What a test or a benchmark puts here in place of the kernel's IPVS and real checks. */
interface Parts {
  openKernel?: () => Promise<IpvsKernel>;
  runCheck?: HealthMonitorOptions['runCheck'];
}

async function create(call: Extract<BalancerCall, { type: 'create' }>): Promise<IpvsBalancer> {
  // a part written in TypeScript needs tsx's loader, which a thread does not inherit
  if (call.parts?.endsWith('.ts')) ((await import('tsx/esm/api')) as { register(): void }).register();
  const parts = (call.parts ? await import(call.parts) : {}) as Parts;
  const logger = pino(
    { level: call.logLevel, base: undefined, timestamp: false },
    {
      write(line: string) {
        if (lines.length === 0) setImmediate(flushLines);
        lines.push(line);
      },
    },
  );
  const health = new HealthMonitor({ logger, stats: stats.health, ...(parts.runCheck && { runCheck: parts.runCheck }) });
  return IpvsBalancer.create({
    model: copy.model,
    self: call.self,
    logger,
    health,
    stats: stats.ipvs,
    ...call.settings,
    ...(parts.openKernel && { openKernel: parts.openKernel }),
    // this thread has no heartbeat to keep on time: whole tables are planned here
    tableThreadFrom: Infinity,
  });
}

async function answer(call: BalancerCall): Promise<BalancerAnswer> {
  if (call.type === 'create') {
    balancer = create(call);
    await balancer;
    return { type: 'done', id: call.id };
  }
  if (call.type === 'status-next') return statusSlice(call.id, call.of);
  if (call.type === 'status-drop') {
    statusServices.delete(call.of);
    return { type: 'done', id: call.id };
  }
  if (!balancer) throw new Error(`${call.type} before the balancer was created`);
  const ready = await balancer;
  switch (call.type) {
    case 'activate':
      await ready.activate();
      break;
    case 'deactivate':
      await ready.deactivate();
      break;
    case 'reload':
      await ready.reload(copy.model);
      break;
    case 'sync-role':
      await ready.setSyncRole(call.role);
      break;
    case 'close':
      await ready.close();
      break;
    case 'status': {
      // the services follow in slices, each asked for as the one before is written
      const { services, ...rest } = await ready.status();
      if (!services) return { type: 'status', id: call.id, head: rest, rows: '', last: true };
      // the oldest first (a Map keeps the order of insertion)
      for (const of of statusServices.keys()) if (statusServices.size >= readingAtMost) statusServices.delete(of);
      statusServices.set(call.id, { services, next: 0 });
      return { ...statusSlice(call.id, call.id), head: rest, services: services.length };
    }
  }
  return { type: 'done', id: call.id };
}

function statusSlice(id: number, of: number): Extract<BalancerAnswer, { type: 'status' }> {
  const pending = statusServices.get(of);
  if (!pending) throw new Error('the status was let go: more were read at once than the thread keeps');
  // from a cursor: splicing 200 off the front of 100,000 moves all the rest each time
  const slice = pending.services.slice(pending.next, pending.next + statusServicesPerSlice);
  pending.next += slice.length;
  const last = pending.next >= pending.services.length;
  if (last) statusServices.delete(of);
  // the array's text without its brackets: the event loop joins the slices
  return { type: 'status', id, rows: JSON.stringify(slice).slice(1, -1), last };
}

port.on('message', (request: BalancerRequest) => {
  // the model's messages come before the call that uses it, and are taken in order
  if (request.type === 'model' || request.type === 'services') {
    copy.receive(request);
    return;
  }
  void answer(request)
    .catch((error: unknown): BalancerAnswer => ({
      type: 'failed',
      id: request.id,
      message: error instanceof Error ? error.message : String(error),
    }))
    .then((reply) => {
      // what the call logged and counted comes before its answer
      flushLines();
      sendCounted();
      post(reply);
    });
});
