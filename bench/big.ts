// Big tables at host speed (an in-memory IPVS table, no kernel): the daemon's path for an
// ipvsadm rules file of 10,000 × 4 and 100,000 × 2 services (TCP VIPs and firewall marks):
// loading it in the worker, planning health checks, the claim (the whole table from empty),
// twelve seconds active and idle (when V8's memory reducer would collect), a reload with one
// weight changed and `tandem status` down to its JSON. For each step, the
// longest event-loop stall and how late a heartbeat timer of 10 ms ran; then per phase (load,
// apply, reconcile, status) and the director's memory per service. Runs under the V8 flags
// the daemon runs with (src/cli/main.ts's first line): they decide what the GC costs.
// TANDEM_BENCH_BIG=100000x2-vip picks one table; TANDEM_BENCH_BIG_BALANCER=loop or thread runs
// the balancer on the event loop or on its own thread (default: as tandem run does, from
// BALANCER_THREAD_SERVICES); on the event loop, TANDEM_BENCH_BIG_PLANNER=loop or thread plans
// every whole table there or on the planner's thread (default: from TABLE_THREAD_SERVICES
// services). On its thread, the balancer's memory is not the event loop's heap: the figures
// per service are then of the event loop's heap alone. TANDEM_BENCH_BIG_TRACE=DIR adds V8's GC trace
// and a CPU profile (written to DIR) and lists each late heartbeat with its time, to line the
// stalls up with what ran (README: Big tables on the event loop). TANDEM_BENCH_BIG_REALTIME=1
// ranks the threads as `tandem run --realtime` (the packaged unit) does: the event loop at
// SCHED_RR 10, V8's threads one below, the workers (loader, balancer) at nice -20; by default
// all run as started.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthCheckSpec, Model } from '../src/config/model.js';
import type { Balancer } from '../src/ipvs/index.js';
import { createLogger } from '../src/log.js';
import { bigConfigText, bigRealServer, type BigTable } from '../test/support/big-config.js';
import { measureLoopDelay } from '../test/support/loop-delay.js';
import { runCheck, SocketLikeKernel } from './big-parts.js';
import type { Benchmark } from './benchmark.js';
import { collectGarbage } from '../test/support/collect-garbage.js';

const HEARTBEAT_MS = 10;
/** Idle after the claim: longer than V8's memory reducer waits (8 s) before it collects. */
const IDLE_MS = 12_000;
const traceDir = process.env.TANDEM_BENCH_BIG_TRACE;
const plannerPlace = process.env.TANDEM_BENCH_BIG_PLANNER;
if (plannerPlace !== undefined && plannerPlace !== 'loop' && plannerPlace !== 'thread')
  throw new Error(`TANDEM_BENCH_BIG_PLANNER=${plannerPlace}: loop or thread`);
const balancerPlace = process.env.TANDEM_BENCH_BIG_BALANCER;
if (balancerPlace !== undefined && balancerPlace !== 'loop' && balancerPlace !== 'thread')
  throw new Error(`TANDEM_BENCH_BIG_BALANCER=${balancerPlace}: loop or thread`);
const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });

interface StepFigures {
  ms: number;
  /** Longest event-loop delay (wall clock, includes waiting for a CPU on a shared machine). */
  stallMs: number;
  /** Most a 10 ms heartbeat timer fired after its time. */
  lateMs: number;
  /** Longest CPU stretch of the main thread between two 5 ms ticks (this process's own blocking). */
  busyMs: number;
  /** With TANDEM_BENCH_BIG_TRACE: each late heartbeat, `from–to ms (+late)` in performance.now(). */
  lates: string[];
}

/** A module of the compiled code the daemon runs (npm run bench builds first). */
const built = (folder: string, file = 'index') => `../dist/${folder}/${file}.js`;

/** Runs `task` with a heartbeat timer of 10 ms and the event-loop monitors beside it. */
async function step<T>(task: () => Promise<T>): Promise<[T, StepFigures]> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // the histogram counts from its first tick: a task that held the loop at once went unseen
  delay.enable();
  await sleep(2);
  const busy = measureLoopDelay();
  let last = performance.now();
  let lateMs = 0;
  const lates: string[] = [];
  const heartbeat = setInterval(() => {
    const now = performance.now();
    const late = now - last - HEARTBEAT_MS;
    lateMs = Math.max(lateMs, late);
    if (traceDir !== undefined && late > HEARTBEAT_MS) lates.push(`${last.toFixed(0)}–${now.toFixed(0)} ms (+${late.toFixed(0)})`);
    last = now;
  }, HEARTBEAT_MS);
  const started = performance.now();
  const result = await task();
  const ms = performance.now() - started;
  // the task's last synchronous stretch shows only once the timers have run after it
  await sleep(HEARTBEAT_MS + 1);
  delay.disable();
  clearInterval(heartbeat);
  return [result, { ms, stallMs: delay.max / 1e6, lateMs, busyMs: busy.stop().longestBusy, lates }];
}

const show = (label: string, f: StepFigures) =>
  (f.lates.length > 0 ? `  late heartbeats: ${f.lates.join(', ')}\n` : '') +
  `  ${label.padEnd(34)} ${(f.ms / 1000).toFixed(2).padStart(7)} s   stall ≤ ${f.stallMs.toFixed(1).padStart(5)} ms   ` +
  `heartbeat late ≤ ${f.lateMs.toFixed(1).padStart(5)} ms   main thread busy ≤ ${f.busyMs.toFixed(1).padStart(5)} ms`;

function heapUsed(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** The table's rules file at `path`, and at `changedPath` with one weight of the middle
 *  service changed; returns its size. Their text is the bench's, not the daemon's: it is
 *  not kept on the heap. */
async function writeRules(table: BigTable, path: string, changedPath: string): Promise<number> {
  const text = bigConfigText('ipvsadm', table);
  await writeFile(path, text);
  const middle = Math.floor(table.services / 2);
  const weighed = `${bigRealServer(middle, 1)}:8080 -m -w 2`;
  const changedText = text.replace(weighed, `${bigRealServer(middle, 1)}:8080 -m -w 3`);
  if (changedText === text) throw new Error(`no line with ${weighed} to change`);
  await writeFile(changedPath, changedText);
  return text.length;
}

/** Every service checked by TCP, with a check that passes after a second and opens no
 *  socket: the health state of a director that checks everything, without the traffic.
 *  The loader shares equal settings, so this changes the few settings objects in place, not
 *  100,000 services. Returns what gives them the file's checks again: a reload's load
 *  compares the running services with the file's, which the daemon never changes. */
function checkedEverywhere(model: Model): () => void {
  const fromFile = new Map<HealthCheckSpec, HealthCheckSpec['kind']>();
  for (const { healthCheck } of model.virtualServices) if (!fromFile.has(healthCheck)) fromFile.set(healthCheck, healthCheck.kind);
  for (const spec of fromFile.keys()) Object.assign(spec, { kind: 'tcp' });
  return () => {
    for (const [spec, kind] of fromFile) Object.assign(spec, { kind });
  };
}

/** The longest stall and the latest heartbeat of some steps: a phase of the daemon's work. */
const phase = (...steps: StepFigures[]) =>
  `stall ≤ ${Math.max(...steps.map((f) => f.stallMs)).toFixed(1)} ms (busy ≤ ${Math.max(...steps.map((f) => f.busyMs)).toFixed(1)} ms)`;

async function runTable(table: BigTable, dir: string): Promise<void> {
  const { loadConfigOffThread } = (await import(built('config'))) as typeof import('../src/config/index.js');
  const { HealthMonitor } = (await import(built('health'))) as typeof import('../src/health/index.js');
  const { BALANCER_THREAD_SERVICES, BalancerThread, IpvsBalancer, readTable, TABLE_THREAD_SERVICES } = (await import(
    built('ipvs')
  )) as typeof import('../src/ipvs/index.js');
  const { createStats } = (await import(built('lib', 'stats'))) as typeof import('../src/lib/stats.js');
  const onThread = balancerPlace === 'thread' || (balancerPlace === undefined && table.services >= BALANCER_THREAD_SERVICES);
  const tableThreadFrom = plannerPlace === 'loop' ? Infinity : plannerPlace === 'thread' ? 0 : TABLE_THREAD_SERVICES;
  const { configChanges } = (await import(built('daemon', 'reload'))) as typeof import('../src/daemon/reload.js');
  const { jsonChunks } = (await import(built('lib', 'json-chunks'))) as typeof import('../src/lib/json-chunks.js');
  const path = join(dir, `${table.services}x${table.servers}-${table.kind}.rules`);
  const changedPath = `${path}.changed`;
  const bytes = await writeRules(table, path, changedPath);
  console.log(
    `${table.services} ${table.kind === 'vip' ? 'TCP VIP' : 'fwmark'} services × ${table.servers} real servers ` +
      `(ipvsadm rules, ${(bytes / 2 ** 20).toFixed(1)} MiB), ` +
      (onThread
        ? 'the balancer on its own thread'
        : `the balancer on the event loop, whole tables planned ${table.services >= tableThreadFrom ? "on the planner's thread" : 'on the event loop'}`) +
      ':',
  );

  const empty = heapUsed();
  const rssEmpty = process.memoryUsage().rss;
  // on the event loop, the bench reads the table back itself
  const kernel = new SocketLikeKernel();
  const self = { name: 'ifw01', address: '192.0.2.1', priority: 200 };
  const settings = { repairInterval: 3_600_000 };
  // the first model only in here: as in the daemon, nothing holds it once a reload replaced it
  // what holds the first model after the IIFE, until the reload is loaded and described
  const first: { loadReload?: (path: string) => Promise<{ model: Model }>; describeReload?: (next: Model) => Promise<string[]> } = {};
  const { balancer, load, create, withModel, withHealth } = await (async () => {
    const [{ model }, load] = await step(() => loadConfigOffThread(path));
    console.log(show('load (worker, streamed back)', load));
    const asInFile = checkedEverywhere(model);
    const withModel = heapUsed();
    const [balancer, create] = await step((): Promise<Balancer> =>
      onThread
        ? BalancerThread.start({ model, self, logger, stats: createStats(), settings, parts: new URL('./big-parts.ts', import.meta.url) })
        : IpvsBalancer.create({
            model,
            self,
            logger,
            health: new HealthMonitor({ logger, runCheck }),
            openKernel: () => Promise.resolve(kernel),
            ...settings,
            tableThreadFrom,
          }),
    );
    console.log(show(onThread ? "the balancer's thread: health state, services by key" : 'health state, services by key', create));
    // a reload's load shares the running model's unchanged services, and its description
    // compares the two, as the daemon's do
    first.loadReload = (changedPath) => {
      asInFile();
      return loadConfigOffThread(changedPath, {}, { previous: model.virtualServices });
    };
    first.describeReload = (next) => configChanges(model, next);
    return { balancer, load, create, withModel, withHealth: heapUsed() };
  })();

  const [, claim] = await step(() => balancer.activate());
  console.log(show('claim: whole table from empty', claim));
  // V8's memory reducer collects the whole heap some seconds after allocation slows down
  const [, idle] = await step(() => sleep(IDLE_MS));
  console.log(show(`active and idle for ${IDLE_MS / 1000} s`, idle));
  // both threads' heaps (the planner's holds its copy of the model), and what malloc kept
  const rssActive = process.memoryUsage().rss;
  // the reloaded model as the daemon gets it, from the loader beside the running one
  const { loadReload } = first;
  delete first.loadReload;
  if (!loadReload) throw new Error('no first model to load the reload beside');
  const [{ model: changed }, reloadLoad] = await step(() => loadReload(changedPath));
  console.log(show('reload: load (worker, streamed back beside the running model)', reloadLoad));
  checkedEverywhere(changed);
  const [changes, reload] = await step(async () => {
    const { describeReload } = first;
    delete first.describeReload;
    if (!describeReload) throw new Error('no first model to describe the reload against');
    const described = await describeReload(changed);
    await balancer.reload(changed);
    return described;
  });
  console.log(show(`reload: one weight changed (${changes.join('; ')})`, reload));
  const [status, statusStep] = await step(() => balancer.status());
  console.log(show(`status (${status.services?.length ?? 0} services)`, statusStep));
  const [json, jsonStep] = await step(async () => {
    let bytes = 0;
    for await (const chunk of jsonChunks({ ok: true, command: 'status', status })) bytes += chunk.length;
    return bytes;
  });
  console.log(show(`status as JSON (${(json / 2 ** 20).toFixed(0)} MiB)`, jsonStep));

  const beforeMirror = heapUsed();
  const perService = (bytes: number) => `${Math.round(bytes / table.services)} B`;
  const liveHeap = `live heap after the reload and status ${((beforeMirror - empty) / 2 ** 20).toFixed(0)} MiB`;
  if (onThread) {
    console.log(
      `  memory per service on the event loop's heap: model ${perService(withModel - empty)}, ` +
        `the balancer's part ${perService(withHealth - withModel)}; process RSS once active and idle ${perService(rssActive - rssEmpty)} ` +
        `(both threads, the bench's in-memory table included); ${liveHeap} (the event loop's)`,
    );
  } else {
    const [mirror] = await step(() => readTable(kernel));
    const withMirror = heapUsed();
    console.log(
      `  memory per service: model ${perService(withModel - empty)}, health state ${perService(withHealth - withModel)}, ` +
        `kernel mirror (the table as read back) ${perService(withMirror - beforeMirror)}; ` +
        `process RSS once active and idle ${perService(rssActive - rssEmpty)} (the bench's in-memory table included); ` +
        `${liveHeap} (with the in-memory table)`,
    );
    if (mirror.length !== table.services) throw new Error(`the table has ${mirror.length} services, not ${table.services}`);
  }
  const steps = [load, create, claim, idle, reloadLoad, reload, statusStep, jsonStep];
  console.log(
    `  per phase: load ${phase(load, create, reloadLoad)}; apply ${phase(claim)}; idle ${phase(idle)}; reconcile ${phase(reload)}; status ${phase(statusStep, jsonStep)}; ` +
      `heartbeat late ≤ ${Math.max(...steps.map((f) => f.lateMs)).toFixed(1)} ms`,
  );
  if (status.services?.length !== table.services)
    throw new Error(`status shows ${status.services?.length} services, not ${table.services}`);
  await balancer.close();
}

/** The V8 flags of the daemon's command (the first line of src/cli/main.ts). */
function daemonFlags(): string[] {
  const shebang = readFileSync(new URL('../src/cli/main.ts', import.meta.url), 'utf8').split('\n')[0] ?? '';
  return shebang.split(' ').filter((word) => word.startsWith('--'));
}

/** The tables, in this process: run() starts this file with the daemon's flags for it. */
async function runTables(): Promise<void> {
  if (process.env.TANDEM_BENCH_BIG_REALTIME === '1') {
    const { defaultRealtimePriority, enableRealtime, realtimeWorkerRank } = (await import(
      built('daemon')
    )) as typeof import('../src/daemon/index.js');
    const { rankHelperThreads } = (await import(built('lib', 'helper-thread'))) as typeof import('../src/lib/helper-thread.js');
    console.log(`scheduling as tandem run --realtime: ${await enableRealtime(defaultRealtimePriority)}`);
    rankHelperThreads(realtimeWorkerRank);
  }
  const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-big-'));
  try {
    const tables: BigTable[] = [
      { services: 10_000, servers: 4, kind: 'vip' },
      { services: 10_000, servers: 4, kind: 'fwmark' },
      { services: 100_000, servers: 2, kind: 'vip' },
      { services: 100_000, servers: 2, kind: 'fwmark' },
    ];
    const only = process.env.TANDEM_BENCH_BIG;
    for (const table of tables) {
      if (only === undefined || only === `${table.services}x${table.servers}-${table.kind}`) await runTable(table, dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const bigBenchmark: Benchmark = {
  name: 'big',
  description: 'big tables at host speed (in-memory IPVS): load, claim, reload, status of 10k × 4 and 100k × 2; stalls, memory',
  async run() {
    const tracing = traceDir === undefined ? [] : ['--trace-gc', '--trace-incremental-marking', '--cpu-prof', `--cpu-prof-dir=${traceDir}`];
    const flags = [...daemonFlags(), ...tracing];
    console.log(`(under the daemon's flags ${flags.join(' ')}; a shared 2-core machine makes these figures indicative;`);
    console.log(' "busy" is the main thread\'s own CPU, without the time it waited for one)');
    // a file, not --eval: the loader's worker thread inherits the options (and refuses --input-type)
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the big bench exited with ${code}`);
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --trace-gc counts from the isolate's start, a CPU profile in µs of the monotonic clock
  if (traceDir !== undefined)
    console.log(`clock: performance.now() ${performance.now()} ms = process.hrtime ${process.hrtime.bigint()} ns`);
  await runTables();
}
