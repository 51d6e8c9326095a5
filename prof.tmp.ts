import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { HealthMonitor } from './src/health/index.js';
import { createLogger } from './src/log.js';
import { healthCheck, modelOf, realServer, virtualService } from './test/unit/health/model.js';
import { measureLoopDelay, formatLoopDelay } from './test/lab/health/loop-delay.js';
const logger = createLogger({ format: 'json', level: 'warn', destination: new Writable({ write: (_c, _e, d) => d() }) });
function model(interval: number) {
  const services = [];
  for (let s = 0; s < 10000; s++) services.push(virtualService(`web${s}`, [0,1,2,3].map((i) => realServer(`10.${s >> 8}.${s & 255}.${i+1}`, 80, { name: `w${s}-${i}` })), { vip: { address: `203.0.113.${(s % 250) + 1}`, family: 4, prefix: 32 }, port: 1024 + s, healthCheck: healthCheck({ kind: 'send-expect', send: 'GET /', expect: 'HTTP', interval }) }));
  return modelOf(services);
}
const a = model(2000), b = model(3000);
let t = performance.now(); const mon = new HealthMonitor(a, { logger }); console.log('load', (performance.now() - t).toFixed(0));
for (const m of [b, a, b]) {
  const d = measureLoopDelay(); t = performance.now(); await mon.reload(m); console.log('reload', (performance.now() - t).toFixed(0), formatLoopDelay(d.stop()));
}
