// The control socket protocol on a real unix socket in a temporary directory.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ControlServer,
  sendControlRequest,
  type ControlHandler,
  type DaemonStatus,
  type OperatorOutcome,
} from '../../../src/control/index.js';
import type { ServiceList, ServiceStatus } from '../../../src/ipvs/index.js';
import { JsonRows } from '../../../src/lib/json-chunks.js';
import { createStats } from '../../../src/lib/stats.js';

const execFileAsync = promisify(execFile);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-control-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const handler: ControlHandler = {
  status: () => ({ node: 'ifw01', role: 'ACTIVE' }) as DaemonStatus,
  operator: (command) =>
    Promise.resolve<OperatorOutcome>(
      command === 'failover'
        ? { ok: true, message: 'the peer is ACTIVE after 2 ms', role: 'BACKUP', durationMs: 2.5 }
        : { ok: false, code: 'not-standby', message: 'this node is ACTIVE, not in STANDBY', role: 'ACTIVE', durationMs: 0.1 },
    ),
  reload: () =>
    Promise.resolve({
      ok: true,
      message: '1 change(s) applied',
      changes: ['serial_no: 1 -> 2'],
      diagnostics: [],
      serialNo: 2,
      durationMs: 4,
    }),
};

function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect(path, () => socket.end(text));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('control socket', () => {
  it('answers status and operator requests, one JSON line each way', async () => {
    const path = join(dir, 'run', 'tandem.sock');
    const server = await ControlServer.listen(path, handler);
    try {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'run'))).mode & 0o777).toBe(0o700);
      expect(await sendControlRequest(path, { command: 'status' })).toEqual({
        ok: true,
        command: 'status',
        status: { node: 'ifw01', role: 'ACTIVE' },
      });
      expect(await sendControlRequest(path, { command: 'failover' })).toEqual({
        command: 'failover',
        ok: true,
        message: 'the peer is ACTIVE after 2 ms',
        role: 'BACKUP',
        durationMs: 2.5,
      });
      expect(await sendControlRequest(path, { command: 'resume' })).toMatchObject({ command: 'resume', ok: false, code: 'not-standby' });
      expect(await sendControlRequest(path, { command: 'reload' })).toMatchObject({
        command: 'reload',
        ok: true,
        changes: ['serial_no: 1 -> 2'],
        serialNo: 2,
      });
      expect(JSON.parse(await raw(path, 'not json\n'))).toMatchObject({ ok: false, code: 'bad-request' });
      expect(JSON.parse(await raw(path, '{"command":"reboot"}\n'))).toMatchObject({
        ok: false,
        code: 'bad-request',
        message: expect.stringContaining('known: status, failover') as unknown,
      });
    } finally {
      await server.close();
    }
  });

  it("writes a status's rows as they come, and cuts the answer short when they stop coming", async () => {
    const path = join(dir, 'tandem.sock');
    const rows = ['{"port":80}', '{"port":443}'];
    let fail = false;
    const statusWith = (): DaemonStatus<ServiceList> => {
      const services = new JsonRows<ServiceStatus>(2, async function* () {
        yield rows[0]!;
        await Promise.resolve(); // the next slice is a message of the thread's
        if (fail) throw new Error('the balancer thread stopped');
        yield rows[1]!;
      });
      return { node: 'ifw01', ipvs: { role: 'active', services } } as unknown as DaemonStatus<ServiceList>;
    };
    const server = await ControlServer.listen(path, { ...handler, status: statusWith });
    try {
      expect(await sendControlRequest(path, { command: 'status' })).toEqual({
        ok: true,
        command: 'status',
        status: { node: 'ifw01', ipvs: { role: 'active', services: [{ port: 80 }, { port: 443 }] } },
      });
      fail = true;
      await expect(sendControlRequest(path, { command: 'status' })).rejects.toThrow('cut its answer short');
      expect((await sendControlRequest(path, { command: 'failover' })).ok).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('replaces the socket of a dead daemon, but neither a live one nor a file that is not a socket', async () => {
    const path = join(dir, 'tandem.sock');
    const first = await ControlServer.listen(path, handler);
    await expect(ControlServer.listen(path, handler)).rejects.toThrow(`another tandem daemon is listening on ${path}`);
    await first.close();
    // A daemon killed with SIGKILL leaves its socket behind.
    spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    const second = await ControlServer.listen(path, handler);
    expect((await sendControlRequest(path, { command: 'status' })).ok).toBe(true);
    await second.close();
    const notSocket = join(dir, 'tandem.yaml');
    writeFileSync(notSocket, 'cluster: lab\n');
    await expect(ControlServer.listen(notSocket, handler)).rejects.toThrow(`${notSocket} exists and is not a socket`);
  });

  it('says what is wrong when no daemon listens', async () => {
    await expect(sendControlRequest(join(dir, 'none.sock'), { command: 'status' })).rejects.toThrow('no tandem daemon is listening on');
  });

  it("refuses a --socket in a directory others may write or that is not root's", async () => {
    const shared = join(dir, 'shared');
    await mkdir(shared, { mode: 0o777 });
    await chmod(shared, 0o1777);
    await expect(ControlServer.listen(join(shared, 'tandem.sock'), handler)).rejects.toThrow(
      `${shared}, the directory of the control socket ${join(shared, 'tandem.sock')}, is writable by its group (mode 1777)`,
    );
    const someones = join(dir, 'someones');
    await mkdir(someones, { mode: 0o700 });
    await chown(someones, 1000, 1000);
    await expect(ControlServer.listen(join(someones, 'tandem.sock'), handler)).rejects.toThrow('belongs to uid 1000, not root');
  });

  it('refuses a client that is not root, by the credentials the kernel gives', async () => {
    const stats = createStats().control;
    const path = join(dir, 'tandem.sock');
    const server = await ControlServer.listen(path, handler, { stats });
    try {
      // open the way for another user: only the credentials check is left to refuse it
      await chmod(dir, 0o711);
      await chmod(path, 0o666);
      // asynchronously: the server answers from this process's event loop
      const client = await execFileAsync(
        process.execPath,
        [
          '-e',
          `const s = require('node:net').connect(${JSON.stringify(path)}, () => s.write('{"command":"status"}\\n'));
           s.on('data', (d) => process.stdout.write(d));
           s.on('error', () => undefined);`,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 4000, env: {}, cwd: '/' },
      );
      expect(JSON.parse(client.stdout)).toMatchObject({
        ok: false,
        code: 'forbidden',
        message: expect.stringContaining('uid 65534') as unknown,
      });
      expect(stats.refused.value({ reason: 'forbidden' })).toBe(1);
      expect((await sendControlRequest(path, { command: 'status' })).ok).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('closes a client that sends no request in time, and one too many', async () => {
    const stats = createStats().control;
    const path = join(dir, 'tandem.sock');
    const server = await ControlServer.listen(path, handler, { stats, requestTimeoutMs: 200, maxConnections: 2 });
    const closed = (socket: ReturnType<typeof connect>) => new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // the server's close races the client's writes: EPIPE or ECONNRESET is the expected end
    const unexpectedErrors: unknown[] = [];
    const connectExpectingClose = () =>
      connect(path).on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') unexpectedErrors.push(error);
      });
    try {
      const silent = [connectExpectingClose(), connectExpectingClose()];
      await Promise.all(silent.map((socket) => new Promise((resolve) => socket.on('connect', resolve))));
      const third = connectExpectingClose();
      await closed(third);
      expect(stats.refused.value({ reason: 'busy' })).toBe(1);
      // one trickles a byte at a time: still closed at the deadline
      const trickle = setInterval(() => silent[0]!.write('{'), 20);
      silent[0]!.on('close', () => clearInterval(trickle));
      await Promise.all(silent.map(closed));
      expect(stats.refused.value({ reason: 'idle' })).toBe(2);
      expect(unexpectedErrors).toEqual([]);
      expect((await sendControlRequest(path, { command: 'status' })).ok).toBe(true);
    } finally {
      await server.close();
    }
  });
});
