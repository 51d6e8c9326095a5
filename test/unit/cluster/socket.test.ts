// The secure channel's sockets on loopback (127.0.0.1 and 127.0.0.2 play the two
// nodes): connected to the peer, they take nothing from elsewhere; a flood of
// copies of a genuine datagram is dropped as a replay and crowds out nothing; a
// peer that is not listening is a send error, not a socket error.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { receiveBufferBytes, SecureChannel, type ChannelMessage } from '../../../src/cluster/channel.js';
import { ChannelEndpoint } from '../../../src/cluster/endpoint.js';
import { messageKinds } from '../../../src/cluster/envelope.js';
import { Keyring } from '../../../src/cluster/keys.js';
import { ChannelSessions } from '../../../src/cluster/replay.js';
import { rejectReasons } from '../../../src/cluster/rejections.js';
import { createStats } from '../../../src/lib/stats.js';
import { createLogger } from '../../../src/log.js';

const keyring = new Keyring(new Map([[1, Buffer.alloc(32, 3)]]), 1);
const port = 40_000 + Math.floor(Math.random() * 20_000);
const decode = (payload: Uint8Array) => ({ ok: true as const, value: Buffer.from(payload).toString() });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const open: SecureChannel<string>[] = [];

async function node(self: 'ifw01' | 'ifw02', onMessage?: (message: ChannelMessage<string>) => void) {
  const [local, remote] = self === 'ifw01' ? ['127.0.0.1', '127.0.0.2'] : ['127.0.0.2', '127.0.0.1'];
  const peer = self === 'ifw01' ? 'ifw02' : 'ifw01';
  const endpoint = new ChannelEndpoint({ cluster: 'lab', self, peer }, messageKinds.heartbeat, keyring, new ChannelSessions());
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const messages: ChannelMessage<string>[] = [];
  const stats = createStats().heartbeat;
  const channel = await SecureChannel.open({
    stats,
    endpoint,
    decode,
    paths: [{ local, remote }],
    port,
    logger: createLogger({ format: 'json', destination }),
    now: () => performance.now(),
    onMessage: (message) => {
      messages.push(message);
      onMessage?.(message);
    },
  });
  open.push(channel);
  const counters = () => ({
    accepted: stats.accepted.value({ path: 0 }),
    sendErrors: stats.sendErrors.value({ path: 0 }),
    receiveErrors: stats.receiveErrors.value({ path: 0 }),
    rejected: Object.fromEntries(rejectReasons.map((reason) => [reason, stats.rejected.value({ path: 0, reason })])),
  });
  return { channel, endpoint, messages, logs, counters };
}

/** Sends raw datagrams from a socket of our own, bound to `from`. */
async function sendFrom(from: { address: string; port: number }, to: string, datagrams: Buffer[]): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(from, resolve));
  for (const datagram of datagrams) await new Promise<void>((resolve) => socket.send(datagram, port, to, () => resolve()));
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(5);
  expect(condition()).toBe(true);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((channel) => channel.close()));
});

describe('the channel on loopback sockets', () => {
  it('takes datagrams from the peer address and port only', async () => {
    const a = await node('ifw01');
    const b = await node('ifw02');
    a.channel.send(Buffer.from('hello'));
    await until(() => b.messages.length === 1);
    expect(b.messages[0]).toMatchObject({ message: 'hello', path: 0, proven: false });
    // A copy from another address, and from the peer's address but another port.
    const copy = a.endpoint.seal(Buffer.from('stray')).datagram;
    await sendFrom({ address: '127.0.0.3', port }, '127.0.0.2', [copy]);
    await sendFrom({ address: '127.0.0.1', port: port + 1 }, '127.0.0.2', [copy]);
    a.channel.send(Buffer.from('after'));
    await until(() => b.messages.length === 2);
    expect(b.messages.map((m) => m.message)).toEqual(['hello', 'after']);
    expect(b.counters()).toMatchObject({ accepted: 2, rejected: { replay: 0, 'bad-mac': 0 } });
  });

  it('drops a flood of copies of a genuine datagram as replays, and still takes the next genuine one', async () => {
    const b = await node('ifw02');
    const a = new ChannelEndpoint({ cluster: 'lab', self: 'ifw01', peer: 'ifw02' }, messageKinds.heartbeat, keyring, new ChannelSessions());
    const genuine = a.seal(Buffer.from('one')).datagram;
    const forged = Buffer.from(genuine);
    forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
    // From the peer's own address and port, as a spoofed flood comes.
    const peer = { address: '127.0.0.1', port };
    await sendFrom(peer, '127.0.0.2', [genuine, ...Array<Buffer>(200).fill(forged), a.seal(Buffer.from('two')).datagram]);
    await until(() => b.messages.length === 2);
    expect(b.messages.map((m) => m.message)).toEqual(['one', 'two']);
    expect(b.counters().rejected).toMatchObject({ replay: 200, 'bad-mac': 0 });
  });

  it('counts a peer that is not listening as send errors, not socket errors', async () => {
    const a = await node('ifw01');
    for (let i = 0; i < 3; i++) {
      a.channel.send(Buffer.from('anyone?'));
      await sleep(10);
    }
    await until(() => a.counters().sendErrors > 0);
    expect(a.logs.filter((line) => line.event === 'channel.socket-error')).toEqual([]);
    expect(a.logs.filter((line) => line.event === 'channel.send-error')).toHaveLength(1);
  });

  it('counts and logs a datagram whose handling fails, and takes the next one', async () => {
    const a = await node('ifw01');
    const b = await node('ifw02', (message) => {
      if (message.message === 'boom') throw new Error('a bug in the handler');
    });
    a.channel.send(Buffer.from('boom'));
    a.channel.send(Buffer.from('after'));
    await until(() => b.messages.length === 2);
    expect(b.counters()).toMatchObject({ accepted: 2, receiveErrors: 1 });
    expect(b.logs.filter((line) => line.event === 'channel.receive-error')).toHaveLength(1);
  });

  it('asks for a receive buffer that holds a burst, and says so when the kernel caps it', async () => {
    const a = await node('ifw01');
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const warned = a.logs.filter((line) => line.event === 'channel.receive-buffer');
    expect(warned).toHaveLength(rmemMax < receiveBufferBytes ? 1 : 0);
  });
});
