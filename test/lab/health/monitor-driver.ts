// Runs a HealthMonitor inside a lab namespace (the director's), as the daemon would on the
// active node: `node --import tsx monitor-driver.ts MODEL.json`. Log lines (pino JSON) and
// change events go to stdout; SIGTERM disables the monitor and exits.
import { readFileSync } from 'node:fs';
import type { Model } from '../../../src/config/model.js';
import { HealthMonitor } from '../../../src/health/index.js';
import { createLogger } from '../../../src/log.js';

const model = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Model;
const logger = createLogger({ format: 'json', level: 'debug' });
const monitor = new HealthMonitor({ logger });
await monitor.reload(model);
monitor.onChange((changes) => logger.info({ event: 'driver.changes', changes }, 'health changed'));
monitor.enable();
process.once('SIGTERM', () => {
  void monitor.disable().then(() => process.exit(0));
});
