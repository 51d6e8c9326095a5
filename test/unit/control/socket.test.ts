// The control socket protocol on a real unix socket in a temporary directory.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
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
});
