// Connection sync between two SyncService processes in namespaces over real UDP, with
// an in-memory table: the bulk resync of a filled table, streamed changes, and a third
// namespace on the link that forges a datagram (the peer's address, a wrong key) and
// replays a genuine one: neither changes the backup's cache, both are counted.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelEndpoint, ChannelSessions, Keyring, messageKinds } from '../../../src/cluster/index.js';
import type { SyncStatus } from '../../../src/sync/index.js';
import { encodeSyncMessage } from '../../../src/sync/wire.js';
import { Collector, requireRoot, run, stopChild } from '../../support/netns.js';

const id = randomBytes(2).toString('hex');
const ns = (name: string) => `sc-${id}-${name}`;
const addresses = { a: '10.77.0.1', b: '10.77.0.2', x: '10.77.0.3' } as const;
const port = 18848;
const key = randomBytes(32);
const script = new URL('./sync-node.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Node {
  child: ChildProcess;
  lines: Collector<Record<string, unknown>>;
  ask(command: Record<string, unknown>, answer: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function startNode(name: 'a' | 'b'): Promise<Node> {
  const [self, peer] = name === 'a' ? ['sc-a', 'sc-b'] : ['sc-b', 'sc-a'];
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns(name),
      process.execPath,
      '--import',
      'tsx',
      script,
      self,
      peer,
      addresses[name],
      addresses[name === 'a' ? 'b' : 'a'],
      String(port),
      key.toString('hex'),
    ],
    { stdio: 'pipe' },
  );
  const lines = new Collector<Record<string, unknown>>(`node ${name}`);
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  await lines.waitFor((line) => line.ready === true, 20_000);
  return {
    child,
    lines,
    async ask(command, answer) {
      const seen = lines.items.length;
      child.stdin.write(`${JSON.stringify(command)}\n`);
      return lines.waitFor((line) => lines.items.indexOf(line) >= seen && answer(line), 10_000);
    },
  };
}

async function status(node: Node): Promise<{ status: SyncStatus; cached: Record<string, boolean> }> {
  return (await node.ask({ op: 'status' }, (line) => 'status' in line)) as unknown as {
    status: SyncStatus;
    cached: Record<string, boolean>;
  };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

/** Sends datagrams from the third namespace, passing for node a (its address and the sync port). */
async function spoof(datagrams: Buffer[]): Promise<void> {
  const program = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
s.bind(('${addresses.a}', ${port}))
for datagram in sys.argv[1:]:
    s.sendto(bytes.fromhex(datagram), ('${addresses.b}', ${port}))
`;
  await run('ip', ['netns', 'exec', ns('x'), 'python3', '-c', program, ...datagrams.map((d) => d.toString('hex'))]);
}

describe('connection sync between two namespaces', () => {
  let a: Node;
  let b: Node;

  beforeAll(async () => {
    requireRoot();
    await run('ip', ['netns', 'add', ns('sw')]);
    await run('ip', ['-n', ns('sw'), 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', ns('sw'), 'link', 'set', 'br0', 'up']);
    for (const name of ['a', 'b', 'x'] as const) {
      await run('ip', ['netns', 'add', ns(name)]);
      await run('ip', ['-n', ns('sw'), 'link', 'add', `p-${name}`, 'type', 'veth', 'peer', 'name', `sc${id}${name}`]);
      await run('ip', ['-n', ns('sw'), 'link', 'set', `p-${name}`, 'master', 'br0', 'up']);
      await run('ip', ['-n', ns('sw'), 'link', 'set', `sc${id}${name}`, 'netns', ns(name)]);
      await run('ip', ['-n', ns(name), 'link', 'set', `sc${id}${name}`, 'name', 'eth0']);
      await run('ip', ['-n', ns(name), 'addr', 'add', `${addresses[name]}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns(name), 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns(name), 'link', 'set', 'lo', 'up']);
    }
    [a, b] = await Promise.all([startNode('a'), startNode('b')]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((node) => stopChild(node.child)));
    for (const name of ['a', 'b', 'x', 'sw']) await run('ip', ['netns', 'del', ns(name)]).catch(() => undefined);
  });

  it('sends the whole table, then the changes, and ignores forgeries and replays', async () => {
    await a.ask({ op: 'fill', from: 0, count: 3000, value: 'v1' }, (line) => line.done === 'fill');
    await b.ask({ op: 'role', role: 'BACKUP' }, (line) => line.done === 'role');
    await a.ask({ op: 'role', role: 'ACTIVE' }, (line) => line.done === 'role');

    const bulk = await until(
      () => status(b),
      (s) => s.status.synced && Object.keys(s.cached).length === 3000,
    );
    expect(bulk.status.synced).toBe(true);
    expect(Object.keys(bulk.cached)).toHaveLength(3000);
    expect(bulk.status.kinds[0]).toMatchObject({ kind: 'conntrack', role: 'receiving', entriesWarm: 3000 });

    await a.ask({ op: 'fill', from: 3000, count: 200, value: 'v2' }, (line) => line.done === 'fill');
    await a.ask({ op: 'remove', from: 0, count: 100 }, (line) => line.done === 'remove');
    const streamed = await until(
      () => status(b),
      (s) => Object.keys(s.cached).length === 3100 && !s.cached['flow-0'],
    );
    expect(Object.keys(streamed.cached)).toHaveLength(3100);
    expect(streamed.cached['flow-3199']).toBe(true);

    // A datagram passing for node a, sealed with a key the pair does not have.
    const forger = new ChannelEndpoint(
      { cluster: 'sc-lab', self: 'sc-a', peer: 'sc-b' },
      messageKinds.sync,
      new Keyring(new Map([[1, randomBytes(32)]]), 1),
      new ChannelSessions(),
    );
    const forged = forger.seal(
      encodeSyncMessage({
        kind: 'conntrack',
        body: {
          type: 'data',
          epoch: 1,
          seq: 1,
          records: [{ remove: false, entry: Buffer.from('{"key":"forged","value":"x","timeoutMs":1}') }],
          resyncBegin: true,
          resyncEnd: true,
        },
      }),
    ).datagram;
    // A genuine datagram of node a, sent again.
    const sent = ((await a.ask({ op: 'sent' }, (line) => 'sent' in line)).sent as string[]).map((hex) => Buffer.from(hex, 'hex'));
    const genuine = sent.slice(-20);
    const before = await status(b);
    await spoof([forged, ...genuine]);
    await sleep(500);
    const after = await status(b);
    expect(after.cached).toEqual(before.cached);
    expect(after.cached.forged).toBeUndefined();
    expect(after.status.datagrams.rejected['bad-mac'] ?? 0).toBe((before.status.datagrams.rejected['bad-mac'] ?? 0) + 1);
    expect(after.status.datagrams.rejected.replay ?? 0).toBe((before.status.datagrams.rejected.replay ?? 0) + genuine.length);
    expect(after.status.synced).toBe(true);

    // b takes over: its cache is committed into its (memory) kernel.
    await b.ask({ op: 'role', role: 'ACTIVE' }, (line) => line.done === 'role');
    const committed = await b.ask({ op: 'commit' }, (line) => line.done === 'commit');
    expect(committed.committed).toBe(3100);
    const final = await status(b);
    expect(final.status.kinds[0]?.lastCommit).toMatchObject({ entries: 3100, failed: 0 });
  }, 90_000);
});
