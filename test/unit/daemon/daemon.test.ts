// A standalone daemon with an in-memory controller: the election's actions reach
// the controller one at a time, status and the control socket answer, a stop
// releases before it closes.
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Keyring, type HealthSummary, type Transition } from '../../../src/cluster/index.js';
import { sendControlRequest, type ControllerStatus } from '../../../src/control/index.js';
import type { Controller } from '../../../src/daemon/controller.js';
import { Daemon } from '../../../src/daemon/index.js';
import { captureLogger } from '../../support/capture-log.js';
import { MemorySyncedTable } from '../../support/memory-synced-table.js';
import { model } from './pair-config.js';
import { collectGarbage } from '../../support/collect-garbage.js';

const standalone = `cluster: lab
serial_no: 1
nodes:
  - { name: lb, address: 192.0.2.1, priority: 100 }
`;

class FakeController implements Controller {
  readonly calls: string[] = [];
  /** The transitions whose hooks were queued, in order. */
  readonly hooked: string[] = [];
  /** Rejects reloads with this message. */
  failReload: string | undefined;
  /** Called as a claim starts. */
  onClaim: (() => void) | undefined;
  /** The daemon's health callback, given at start. */
  reportHealth: (health: HealthSummary) => void = () => undefined;

  start(onHealth: (health: HealthSummary) => void): Promise<HealthSummary> {
    this.reportHealth = onHealth;
    this.calls.push('start');
    return Promise.resolve({ canServe: true, monitorLinks: false, links: [], fault: '' });
  }

  async claim(): Promise<void> {
    this.calls.push('claim');
    this.onClaim?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.calls.push('claimed');
  }

  release(): Promise<void> {
    this.calls.push('release');
    return Promise.resolve();
  }

  announce(): Promise<void> {
    this.calls.push('announce');
    return Promise.resolve();
  }

  setSyncRole(): Promise<void> {
    return Promise.resolve();
  }

  runHooks(transition: Transition): void {
    this.calls.push('hooks');
    this.hooked.push(`${transition.from} -> ${transition.to}`);
  }

  refreshPeer(path: number): void {
    this.calls.push(`refresh peer on path ${path}`);
  }

  reload(): Promise<void> {
    this.calls.push('reload');
    return this.failReload === undefined ? Promise.resolve() : Promise.reject(new Error(this.failReload));
  }

  status(): ControllerStatus {
    return { addresses: [], failedAddresses: [], announcements: { framesSent: 0, framesFailed: 0 }, hooks: { pending: 0 } };
  }

  close(): Promise<void> {
    this.calls.push('close');
    return Promise.resolve();
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-daemon-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The file a reload reads: by default the running one with serial 2. */
const nextSerial = () => standalone.replace('serial_no: 1', 'serial_no: 2');

async function start(controller: Controller, nextConfig = nextSerial) {
  const m = await model(standalone);
  const log = captureLogger();
  const socketPath = join(dir, 'tandem.sock');
  /** The serial number of the model each load was given as the running one. */
  const loadedBeside: (number | undefined)[] = [];
  const daemon = await Daemon.start({
    model: m,
    self: m.nodes[0]!,
    controller,
    logger: log.logger,
    socketPath,
    loadConfig: async (running) => {
      loadedBeside.push(running?.serialNo);
      const next = await model(nextConfig());
      return { model: next, warnings: [], self: next.nodes[0]! };
    },
  });
  return { daemon, log, socketPath, firstModel: new WeakRef(m), loadedBeside };
}

/** A node of a pair on loopback whose peer never answers: it claims after initdead, with conntrack sync on. */
const pairMember = (port: number) => `cluster: lab
serial_no: 1
nodes:
  - { name: ifw01, address: 127.0.0.1, priority: 100 }
  - { name: ifw02, address: 127.0.0.2, priority: 100 }
heartbeat: { port: ${port}, keepalive: 20ms, deadtime: 60ms, initdead: 60ms }
auth: { key_file: /etc/tandem/authkey, key_id: 1 }
network: nat
nat_router: { address: 198.51.100.254/24, device: eth1 }
sync: { port: ${port + 1}, conntrack: { enabled: true } }
`;

const until = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
};

/** An in-memory conntrack table whose watch (the sync sender's start) is recorded in the controller's calls. */
function watchedTable(controller: FakeController): MemorySyncedTable {
  const table = new MemorySyncedTable();
  const watched = table.watch.bind(table);
  table.watch = (onChanges) => {
    controller.calls.push('sync watch');
    return watched(onChanges);
  };
  return table;
}

/** Node `index` of the pair on loopback, its peer at the other address. */
async function pairDaemon(port: number, index: 0 | 1, controller: FakeController, table?: MemorySyncedTable): Promise<Daemon> {
  const m = await model(pairMember(port));
  return Daemon.start({
    model: m,
    self: m.nodes[index]!,
    peer: m.nodes[1 - index]!,
    keyring: new Keyring(new Map([[1, Buffer.alloc(32, 7)]]), 1),
    controller,
    logger: captureLogger().logger,
    socketPath: join(dir, `tandem${index}.sock`),
    ...(table && { syncTables: { conntrack: () => table } }),
  });
}

/** Records in `calls` each datagram sent that `matches`, until restored. */
function recordSends(matches: (socket: dgram.Socket, args: unknown[]) => boolean, calls: string[]) {
  const send = Reflect.get(dgram.Socket.prototype, 'send') as (this: dgram.Socket, ...args: unknown[]) => void;
  return vi.spyOn(dgram.Socket.prototype, 'send').mockImplementation(function (this: dgram.Socket, ...args: unknown[]) {
    if (matches(this, args)) calls.push('heartbeat');
    send.apply(this, args);
  });
}

describe('Daemon', () => {
  it('claims as a standalone node, runs a reload after the claim, answers status, and releases before it closes', async () => {
    const controller = new FakeController();
    const { daemon, log, socketPath, loadedBeside } = await start(controller);
    await until(() => controller.calls.includes('claim'));
    const reload = await daemon.reload();
    // the reload's host changes waited for the claim
    expect(controller.calls).toEqual(['start', 'claim', 'hooks', 'claimed', 'reload']);
    expect(reload).toMatchObject({ ok: true, changes: ['serial_no: 1 -> 2'], serialNo: 2 });
    // the loader shares the unchanged services of the model it may replace
    expect(loadedBeside).toEqual([1]);
    const response = await sendControlRequest(socketPath, { command: 'status' });
    expect(response).toMatchObject({
      ok: true,
      command: 'status',
      status: { node: 'lb', role: 'ACTIVE', lastTransition: { from: 'INIT', to: 'ACTIVE', reason: 'standalone' }, config: { serialNo: 2 } },
    });
    await daemon.stop();
    expect(controller.calls.slice(5)).toEqual(['hooks', 'release', 'close']);
    expect(log.records.map((r) => r.event)).toContain('daemon.stopped');
  });

  it('holds nothing of the model a reload replaced', async () => {
    const controller = new FakeController();
    const { daemon, firstModel } = await start(controller);
    await until(() => controller.calls.includes('claimed'));
    expect((await daemon.reload()).ok).toBe(true);
    collectGarbage();
    expect(firstModel.deref()).toBeUndefined();
    await daemon.stop();
  });

  it('runs the model a reload applied, never one it refused (what a crash releases)', async () => {
    const controller = new FakeController();
    let next = standalone.replace('cluster: lab', 'cluster: elsewhere');
    const { daemon, firstModel } = await start(controller, () => next);
    await until(() => controller.calls.includes('claimed'));
    expect(await daemon.reload()).toMatchObject({ ok: false, code: 'restart-needed' });
    expect(daemon.runningModel).toBe(firstModel.deref());
    next = nextSerial();
    expect(await daemon.reload()).toMatchObject({ ok: true, serialNo: 2 });
    expect(daemon.runningModel).toMatchObject({ cluster: 'lab', serialNo: 2 });
    await daemon.stop();
  });

  it('counts its transitions and reloads, and status shows every counter', async () => {
    const controller = new FakeController();
    const { daemon } = await start(controller);
    await until(() => controller.calls.includes('claimed'));
    await daemon.reload();
    const { counters } = await daemon.status();
    const values = (name: string) => counters?.find((counter) => counter.name === name)?.values;
    expect(values('tandem_role_transitions_total')).toEqual([{ labels: { from: 'INIT', to: 'ACTIVE', reason: 'standalone' }, value: 1 }]);
    expect(values('tandem_config_reloads_total')).toEqual([{ labels: { result: 'ok' }, value: 1 }]);
    expect(values('tandem_heartbeat_datagrams_sent_total')).toEqual([]);
    await daemon.stop();
  });

  it('handles an event reported during a step after that step: a claim starting at once cannot reorder transitions', async () => {
    const controller = new FakeController();
    controller.onClaim = () => {
      controller.onClaim = undefined;
      controller.reportHealth({ canServe: false, monitorLinks: true, links: [{ name: 'eth0', up: false }], fault: 'eth0 is down' });
    };
    const { daemon } = await start(controller);
    await until(() => controller.hooked.length >= 2);
    expect(controller.hooked.slice(0, 2)).toEqual(['INIT -> ACTIVE', 'ACTIVE -> FAULT']);
    await daemon.stop();
  });

  it('logs a failed controller call and goes on with the next one', async () => {
    const controller = new FakeController();
    controller.failReload = 'netlink said no';
    const { daemon, log } = await start(controller);
    await until(() => controller.calls.includes('claimed'));
    expect(await daemon.reload()).toMatchObject({ ok: true, serialNo: 2 });
    expect(log.records.filter((r) => r.event === 'controller.failed')).toMatchObject([{ msg: 'controller: netlink said no' }]);
    await daemon.stop();
    expect(controller.calls.slice(-3)).toEqual(['hooks', 'release', 'close']);
  });

  it('starts the sync sender only once the claim is done: the announcement does not wait for it', async () => {
    const controller = new FakeController();
    const daemon = await pairDaemon(40_000 + Math.floor(Math.random() * 20_000), 0, controller, watchedTable(controller));
    await until(() => controller.calls.includes('sync watch'));
    expect(controller.calls.slice(0, 5)).toEqual(['start', 'claim', 'hooks', 'claimed', 'sync watch']);
    await daemon.stop();
  });

  it("tells the peer it stops before it queues the stop's hooks", async () => {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const [first, second] = [new FakeController(), new FakeController()];
    const sends = recordSends((socket) => socket.address().address === '127.0.0.1' && socket.address().port === port, first.calls);
    try {
      const active = await pairDaemon(port, 0, first);
      await until(() => first.calls.includes('claimed'));
      const backup = await pairDaemon(port, 1, second);
      await until(() => second.calls.includes('hooks'));
      for (;;) {
        const { peer } = await active.status();
        if (peer?.alive && peer.role === 'BACKUP') break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const before = first.calls.length;
      const stopped = active.stop();
      // the STOPPED heartbeat left in the same step, ahead of the hooks; the addresses stay until the peer holds them
      expect(first.calls.slice(before)).toEqual(['heartbeat', 'hooks']);
      await stopped;
      expect(second.calls).toContain('claimed');
      await backup.stop();
    } finally {
      sends.mockRestore();
    }
  });

  it('sends the heartbeats held during a claim the moment it is done, before the sync sender starts', async () => {
    const controller = new FakeController();
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const toPeer = (socket: dgram.Socket, args: unknown[]) => {
      try {
        return socket.remoteAddress().port === port;
      } catch {
        return args[1] === port; // not connected: the port is the second argument
      }
    };
    const sends = recordSends(toPeer, controller.calls);
    try {
      const daemon = await pairDaemon(port, 0, controller, watchedTable(controller));
      await until(() => controller.calls.includes('sync watch'));
      const afterClaim = controller.calls.slice(controller.calls.indexOf('claim'));
      // INIT's heartbeats went before; the ACTIVE one waited for the claim, then left before the sync sender's start
      expect(afterClaim.filter((call) => call !== 'heartbeat')).toEqual(['claim', 'hooks', 'claimed', 'sync watch']);
      expect(afterClaim.indexOf('heartbeat')).toBe(afterClaim.indexOf('claimed') + 1);
      await daemon.stop();
    } finally {
      sends.mockRestore();
    }
  });
});
