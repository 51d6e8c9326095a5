// How long the loader takes on large tables, how long it holds the event loop at a stretch,
// and how much memory it uses meanwhile; and the same load as the daemon does it, in a
// worker thread, with how long the daemon's own event loop (its heartbeats) waits then.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadConfigOffThread, parseConfig, toYaml, type LoadOptions } from '../src/config/index.js';
import { formatSummary, type Benchmark } from './benchmark.js';

const options: LoadOptions = { hosts: () => Promise.resolve([]), services: () => undefined };

function rules(services: number, servers: number): string {
  const lines: string[] = [];
  for (let s = 0; s < services; s++) {
    const vip = `10.${(s >> 8) & 255}.${s & 255}.1:80`;
    lines.push(`-A -t ${vip} -s wlc -p 300`);
    for (let r = 0; r < servers; r++) lines.push(`-a -t ${vip} -r 172.16.${s & 255}.${r + 2}:8080 -m -w ${r + 1}`);
  }
  return `${lines.join('\n')}\n`;
}

function lvsCf(services: number, servers: number): string {
  const blocks = ['primary = 192.0.2.1', 'backup = 192.0.2.2', 'backup_active = 1', 'network = nat'];
  for (let s = 0; s < services; s++) {
    blocks.push(
      `virtual v${s} {\n  active = 1\n  address = 10.${(s >> 8) & 255}.${s & 255}.1 eth0:${s}\n  port = 80\n  send = "GET / HTTP/1.0\\r\\n\\r\\n"\n  expect = "HTTP"`,
    );
    for (let r = 0; r < servers; r++)
      blocks.push(`  server r${r} {\n    address = 172.16.${s & 255}.${r + 2}\n    active = 1\n    weight = ${r + 1}\n  }`);
    blocks.push('}');
  }
  return `${blocks.join('\n')}\n`;
}

async function measure(label: string, text: string, file: string): Promise<void> {
  const samples: number[] = [];
  const stalls: number[] = [];
  let heapGrowth = 0;
  for (let i = 0; i < 5; i++) {
    const before = process.memoryUsage().heapUsed;
    const loop = monitorEventLoopDelay({ resolution: 2 });
    loop.enable();
    const start = performance.now();
    const { model } = await parseConfig(text, file, options);
    samples.push(performance.now() - start);
    loop.disable();
    stalls.push(loop.max / 1e6);
    heapGrowth = Math.max(heapGrowth, process.memoryUsage().heapUsed - before);
    if (i === 0) {
      const started = performance.now();
      await toYaml(model);
      const real = model.virtualServices.reduce((n, service) => n + service.realServers.length, 0);
      console.log(
        `${label}: ${(text.length / 1024).toFixed(0)} KiB, ${model.virtualServices.length} services, ${real} real servers; toYaml ${(performance.now() - started).toFixed(1)}ms`,
      );
    }
  }
  console.log(formatSummary(`${label} parse`, samples));
  console.log(formatSummary(`${label} longest event-loop stall`, stalls));
  console.log(`${label} heap growth during a parse: ${(heapGrowth / 1024 / 1024).toFixed(1)} MiB`);
}

/** As the daemon loads it (in a worker thread): how long its own event loop is held meanwhile. */
async function measureOffThread(label: string, text: string, file: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-config-'));
  try {
    const path = join(dir, file);
    await writeFile(path, text);
    const samples: number[] = [];
    const stalls: number[] = [];
    for (let i = 0; i < 5; i++) {
      const loop = monitorEventLoopDelay({ resolution: 2 });
      loop.enable();
      const start = performance.now();
      await loadConfigOffThread(path);
      samples.push(performance.now() - start);
      loop.disable();
      stalls.push(loop.max / 1e6);
    }
    console.log(formatSummary(`${label} in a worker (the daemon's way): load`, samples));
    console.log(formatSummary(`${label} in a worker: longest stall of the daemon's event loop`, stalls));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const configBenchmark: Benchmark = {
  name: 'config',
  description: 'loading large configurations (ipvsadm rules, lvs.cf) on the event loop and in a worker',
  async run() {
    await measure('rules 100x10', rules(100, 10), 'ipvsadm.rules');
    await measure('rules 1000x10', rules(1000, 10), 'ipvsadm.rules');
    await measure('lvs.cf 500x10', lvsCf(500, 10), 'lvs.cf');
    // 2,000 services × 10: a stretch of parsing long enough to show what the worker spares the
    // event loop (npm run bench -- big: 100,000 services the daemon's way)
    const bigRules = rules(2_000, 10);
    await measure('rules 2000x10', bigRules, 'ipvsadm.rules');
    await measureOffThread('rules 2000x10', bigRules, 'ipvsadm.rules');
    const bigCf = lvsCf(2_000, 10);
    await measure('lvs.cf 2000x10', bigCf, 'lvs.cf');
    await measureOffThread('lvs.cf 2000x10', bigCf, 'lvs.cf');
  },
};
