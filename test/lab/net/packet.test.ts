// The packet addon never takes the process down: bad calls and kernel refusals come
// back as JavaScript errors, and the announcer turns a dead link into a logged,
// counted failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gratuitousArp } from '../../../src/net/frames.js';
import { PacketSocket } from '../../../src/net/index.js';
import type { Host, Lab } from '../../support/netns.js';
import { directorLab, type Agent } from './agent.js';

const frame = gratuitousArp(Buffer.from('020000000a01', 'hex'), '192.0.2.100', 'request');

describe('packet addon errors', () => {
  // Every call below is refused before a frame could leave: nothing is sent here.
  const socket = new PacketSocket();
  afterAll(() => socket.close());

  it('reports a missing link as an errno error', () => {
    expect(() => socket.send(0x7ffffff0, frame)).toThrow(expect.objectContaining({ code: 'ENXIO' }) as Error);
  });

  it('rejects bad arguments with type and range errors', () => {
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    expect(() => send('eth0', frame)).toThrow(TypeError);
    expect(() => send(1, 'not a buffer')).toThrow(TypeError);
    expect(() => send(1, Buffer.alloc(10))).toThrow(RangeError);
    expect(() => send(1, Buffer.alloc(9000))).toThrow(RangeError);
  });

  it('refuses to send on a closed socket', () => {
    const closed = new PacketSocket();
    closed.close();
    closed.close();
    expect(() => closed.send(1, frame)).toThrow(/closed/);
  });
});

describe('announcing on a link that is down (lab)', () => {
  let lab: Lab;
  let director: Host;
  let agent: Agent;

  beforeAll(async () => {
    ({ lab, director, agent } = await directorLab({ eth0: ['192.0.2.1/24'] }));
  });
  afterAll(async () => (lab as Lab | undefined)?.destroy());

  it('logs ENETDOWN once and keeps the process alive', async () => {
    await lab.exec(director, 'ip', ['link', 'set', 'eth0', 'down']);
    await agent.call('reconcile', {
      present: [{ address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0' }],
      absent: [],
      announce: { count: 3, interval: 50, refresh: 0 },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const failures = agent.logs.filter((l) => l.includes('"event":"announce.failed"'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('"code":"ENETDOWN"');
    expect(await agent.call('reannounce')).toBeNull(); // still answering
  });
});
