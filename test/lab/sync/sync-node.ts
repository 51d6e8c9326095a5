// `node --import tsx sync-node.ts SELF PEER SELF_ADDRESS PEER_ADDRESS PORT KEY_HEX`: one
// SyncService with an in-memory conntrack table, run inside a namespace by
// sync.test.ts. Commands come as JSON lines on stdin; every answer is a JSON line on
// stdout. The datagrams it sends are kept, so the test can replay a genuine one.
import { Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ChannelSessions, Keyring } from '../../../src/cluster/index.js';
import type { Model } from '../../../src/config/model.js';
import { createStats } from '../../../src/lib/stats.js';
import { createLogger } from '../../../src/log.js';
import { SyncService } from '../../../src/sync/index.js';
import { MemorySyncedTable } from '../../support/memory-synced-table.js';
import { modelOf } from '../../support/models.js';

const [self = '', peer = '', selfAddress = '', peerAddress = '', port = '0', keyHex = ''] = process.argv.slice(2);
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const sent: string[] = [];
const sendDatagram = Object.getOwnPropertyDescriptor(Socket.prototype, 'send')?.value as (this: Socket, ...args: unknown[]) => void;
Socket.prototype.send = function (this: Socket, ...args: unknown[]) {
  if (Buffer.isBuffer(args[0])) sent.push(args[0].toString('hex'));
  sendDatagram.apply(this, args);
} as Socket['send'];

const base = modelOf([]);
const model: Model = {
  ...base,
  cluster: 'sc-lab',
  sync: {
    ...base.sync,
    port: Number(port),
    conntrack: { enabled: true, cacheMaxEntries: 100_000, commit: 'before-announce', filter: { include: [], exclude: [] } },
  },
};
const table = new MemorySyncedTable();
const stats = createStats();
const logs = new Writable({
  write(chunk, _encoding, done) {
    say({ log: JSON.parse(String(chunk)) as unknown });
    done();
  },
});
const service = await SyncService.open({
  model,
  self: { name: self, address: selfAddress, priority: 100 },
  peer: { name: peer, address: peerAddress, priority: 100 },
  keyring: new Keyring(new Map([[1, Buffer.from(keyHex, 'hex')]]), 1),
  sessions: new ChannelSessions(),
  tables: { conntrack: () => table },
  logger: createLogger({ format: 'json', destination: logs }),
  now: () => performance.now(),
  stats: stats.sync,
  registry: stats,
  onSyncedChange: (synced) => say({ synced }),
});

type Command =
  | { op: 'role'; role: 'ACTIVE' | 'BACKUP' }
  | { op: 'fill'; from: number; count: number; value: string }
  | { op: 'remove'; from: number; count: number }
  | { op: 'commit' }
  | { op: 'status' }
  | { op: 'sent' };

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command;
  switch (command.op) {
    case 'role':
      service.setRole(command.role);
      say({ done: 'role' });
      break;
    case 'fill':
      for (let i = command.from; i < command.from + command.count; i++) table.set(`flow-${i}`, command.value);
      say({ done: 'fill' });
      break;
    case 'remove':
      for (let i = command.from; i < command.from + command.count; i++) table.remove(`flow-${i}`);
      say({ done: 'remove' });
      break;
    case 'commit':
      void service.commit().then(() => say({ done: 'commit', committed: table.committed.length }));
      break;
    case 'status': {
      const conns = service.conns().kinds[0];
      say({ status: service.status(), cached: Object.fromEntries((conns?.entries ?? []).map(({ key }) => [key, true])) });
      break;
    }
    case 'sent':
      say({ sent });
      break;
  }
});
process.on('SIGTERM', () => void service.close().then(() => process.exit(0)));
say({ ready: true });
