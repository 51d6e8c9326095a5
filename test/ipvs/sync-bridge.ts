// The IPVS table of a lab namespace, driven over stdin/stdout JSON lines by a test of the
// VM tier (node cannot enter another namespace, so the table runs in a process there).
// It plays the sync engine's part by hand: records move as hex strings of encode().
//   {"op":"dump"}              -> {"op":"dump","records":[…]} per chunk, then {"op":"dump-end","ms":…}
//   {"op":"watch"}             -> {"op":"changes","records":[…]} as they come; {"op":"lost"}
//   {"op":"commit","records"}  -> {"op":"commit","written","failed","ms"}
//   {"op":"count"}             -> {"op":"count","total","established"}
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { createIpvsTable } from '../../src/sync/ipvs/index.js';
import { parseProcLine } from '../../src/sync/ipvs/proc.js';
import { ipvsKernelSync } from './sync-support.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const table = createIpvsTable({ settings: ipvsKernelSync(), syncId: 0, logger });
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
const hex = (entries: readonly Parameters<typeof table.encode>[0][]) =>
  entries.map((entry) => Buffer.from(table.encode(entry)).toString('hex'));

let stopWatch: (() => void) | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line) as { op: string; records?: string[] };
  const started = Date.now();
  switch (request.op) {
    case 'dump':
      for await (const chunk of table.dump()) say({ op: 'dump', records: hex(chunk) });
      say({ op: 'dump-end', ms: Date.now() - started });
      break;
    case 'watch':
      stopWatch ??= table.watch(
        (changes) => say({ op: 'changes', records: hex(changes.map((change) => change.entry)) }),
        () => say({ op: 'lost' }),
      );
      say({ op: 'watching' });
      break;
    case 'commit': {
      const entries = (request.records ?? []).map((record) => table.decode(Buffer.from(record, 'hex')));
      say({ op: 'commit', ...(await table.commit(entries)), ms: Date.now() - started });
      break;
    }
    case 'count': {
      const rows = readFileSync('/proc/net/ip_vs_conn', 'utf8')
        .split('\n')
        .flatMap((text, index) => {
          const parsed = parseProcLine(text, index + 1);
          return parsed ? [parsed] : [];
        });
      say({ op: 'count', total: rows.length, established: rows.filter((row) => row.protocol === 6 && row.state === 1).length });
      break;
    }
    default:
      say({ op: 'error', message: `unknown op ${request.op}` });
  }
}
stopWatch?.();
table.close();
