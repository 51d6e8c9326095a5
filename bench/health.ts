// Health checking at scale: checks per second and event-loop delay while checking 1,000
// and 10,000 real servers (a listener fleet on loopback, in a process of its own), memory
// per checked server, and how long a reload of the model blocks the loop.
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { HealthCheckSpec, Model } from '../src/config/model.js';
import { HealthMonitor } from '../src/health/index.js';
import { createLogger } from '../src/log.js';
import { startFleet, type Fleet } from '../test/support/fleet.js';
import { formatLoopDelay, measureLoopDelay } from '../test/support/loop-delay.js';
import { healthCheck, modelOf, realServer, virtualService } from '../test/support/models.js';
import type { Benchmark } from './benchmark.js';
import { collectGarbage } from '../test/support/collect-garbage.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
const piranhaHttp: Partial<HealthCheckSpec> = { kind: 'send-expect', send: 'GET / HTTP/1.0\r\n\r\n', expect: 'HTTP' };

function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Services of four real servers each, one fleet port per real server. */
function fleetModel(ports: number[], check: Partial<HealthCheckSpec>): Model {
  const services = [];
  for (let s = 0; s * 4 < ports.length; s++) {
    const servers = ports.slice(s * 4, s * 4 + 4).map((port, i) => realServer('127.0.0.1', port, { name: `web${s}-${i}`, weight: 10 }));
    services.push(
      virtualService(`web${s}`, servers, {
        vip: { address: `203.0.113.${(s % 250) + 1}`, family: 4, prefix: 32 },
        port: 1024 + s,
        healthCheck: healthCheck({ timeout: 2000, ...check }),
      }),
    );
  }
  return modelOf(services);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a monitor over the fleet for `seconds` and prints what it achieved. */
async function phase(label: string, model: Model, seconds: number, maxConcurrentChecks?: number): Promise<void> {
  const monitor = new HealthMonitor({ logger, ...(maxConcurrentChecks ? { maxConcurrentChecks } : {}) });
  await monitor.reload(model);
  const measurement = measureLoopDelay();
  monitor.enable();
  await sleep(seconds * 1000);
  const delay = measurement.stop();
  const stats = monitor.stats();
  const down = monitor.status().filter((s) => !s.up).length;
  await monitor.disable();
  console.log(
    `  ${label}: ${(stats.completed / seconds).toFixed(0)} checks/s (${stats.completed} in ${seconds} s, max ${stats.maxInFlight} in flight, ${down} down); ${formatLoopDelay(delay)}`,
  );
}

async function memoryPerServer(fleet: Fleet): Promise<void> {
  const model = fleetModel(fleet.ports, { ...piranhaHttp, interval: 1000 });
  const before = heapUsed();
  const monitor = new HealthMonitor({ logger });
  await monitor.reload(model);
  monitor.enable();
  await sleep(1500); // every server checked at least once, its timer armed
  const after = heapUsed();
  await monitor.disable();
  console.log(
    `  memory: ${((after - before) / fleet.ports.length).toFixed(0)} bytes of heap per checked server (monitor, plan, state, timer, last result)`,
  );
}

/** A model is planned in chunks, first load or reload: how long does it take, how long does it hold the loop? */
async function loadTime(servers: number): Promise<void> {
  const ports = Array.from({ length: servers }, (_, i) => 1024 + (i % 60_000));
  const monitor = new HealthMonitor({ logger });
  const timed = async (model: Model) => {
    const measurement = measureLoopDelay();
    const start = performance.now();
    await monitor.reload(model);
    const elapsed = performance.now() - start;
    return `${elapsed.toFixed(0)} ms (longest main-thread busy stretch ${measurement.stop().longestBusy.toFixed(1)} ms)`;
  };
  const load = await timed(fleetModel(ports, piranhaHttp));
  const reload = await timed(fleetModel(ports, { ...piranhaHttp, interval: 3000 }));
  console.log(`  ${servers.toLocaleString('en')} real servers: first load ${load}; reload with every check changed ${reload}`);
}

export const healthBenchmark: Benchmark = {
  name: 'health',
  description: 'health checks/s, event-loop delay and memory with 1,000 and 10,000 real servers on loopback',
  async run() {
    console.log(
      '  (event-loop delay is sampled every 5 ms and includes that period; the fleet answers from another process on the same machine)',
    );
    const idle = measureLoopDelay();
    await sleep(2000);
    console.log(`  idle baseline: ${formatLoopDelay(idle.stop())}`);
    for (const count of [1000, 10_000]) {
      const fleet = await startFleet(count);
      try {
        console.log(`${count.toLocaleString('en')} real servers (send/expect "GET / HTTP/1.0" / "HTTP"):`);
        await memoryPerServer(fleet);
        await phase('paced, interval 5 s', fleetModel(fleet.ports, { ...piranhaHttp, interval: 5000 }), 10);
        await phase('saturated, interval 0, up to 512 in flight', fleetModel(fleet.ports, { ...piranhaHttp, interval: 0 }), 5);
        if (count === 1000) {
          await phase('saturated TCP connect', fleetModel(fleet.ports, { kind: 'tcp', interval: 0 }), 5);
          await phase('saturated HTTP GET', fleetModel(fleet.ports, { kind: 'http', http: { path: '/', status: 200 }, interval: 0 }), 5);
          await phase(
            'saturated send_program `true`, up to 16 in flight',
            fleetModel(fleet.ports.slice(0, 100), { kind: 'exec', sendProgram: 'true %h', interval: 0 }),
            5,
            16,
          );
        }
      } finally {
        await fleet.stop();
      }
    }
    console.log('model load and reload:');
    for (const servers of [10_000, 40_000]) await loadTime(servers);
  },
};
