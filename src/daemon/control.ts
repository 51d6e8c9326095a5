// The control socket: a unix socket only root can open (mode 0600), one JSON
// request line in, one JSON response line out. `tandem status`, `failover`,
// `takeover`, `standby`, `resume` and `reload` are its clients.
import { existsSync } from 'node:fs';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { OperatorCommand, RefusalCode, Role } from '../cluster/index.js';
import type { Diagnostic } from '../config/index.js';
import type { DaemonStatus } from './status.js';

export const defaultSocketPath = '/run/tandem/tandem.sock';

export type ControlCommand = 'status' | 'reload' | OperatorCommand;
export const controlCommands: readonly ControlCommand[] = ['status', 'failover', 'takeover', 'standby', 'resume', 'reload'];

export interface ControlRequest {
  command: ControlCommand;
}

export interface OperatorOutcome {
  ok: boolean;
  /** Why it was refused or failed. */
  code?: RefusalCode;
  message: string;
  /** This node's role when the request finished. */
  role: Role;
  /** From the request to the answer (for failover: until the peer was seen ACTIVE). */
  durationMs: number;
}

export interface ReloadOutcome {
  ok: boolean;
  /** invalid-config: the file has errors (in `diagnostics`); restart-needed: it changes who the nodes are or how they talk. */
  code?: 'invalid-config' | 'restart-needed' | 'self-stopping';
  message: string;
  /** What changed, one line each; applied when ok. */
  changes: string[];
  /** The file's errors and warnings. */
  diagnostics: Diagnostic[];
  /** The serial number running after the request. */
  serialNo: number;
  durationMs: number;
}

export type ControlResponse =
  | { ok: true; command: 'status'; status: DaemonStatus }
  | ({ command: OperatorCommand } & OperatorOutcome)
  | ({ command: 'reload' } & ReloadOutcome)
  | { ok: false; command?: string; code: 'bad-request'; message: string };

export interface ControlHandler {
  status(): DaemonStatus | Promise<DaemonStatus>;
  operator(command: OperatorCommand): Promise<OperatorOutcome>;
  reload(): Promise<ReloadOutcome>;
}

const maxRequestBytes = 4096;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, handler: ControlHandler): Promise<ControlServer> {
    if (!existsSync(dirname(path))) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await removeStaleSocket(path);
    const server = createServer((socket) => serve(socket, handler));
    // The socket is created with umask 0177 (mode 0600): root only from the first moment.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    return new ControlServer(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!(await lstat(path)).isSocket()) throw new Error(`${path} exists and is not a socket; choose another --socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another tandem daemon is listening on ${path}; stop it first or use --socket`);
  await unlink(path);
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline < 0 && buffered.length <= maxRequestBytes) return;
    socket.removeAllListeners('data');
    const line = newline < 0 ? buffered : buffered.slice(0, newline);
    void answer(line, handler).then((response) => socket.end(JSON.stringify(response) + '\n'));
  });
}

async function answer(line: string, handler: ControlHandler): Promise<ControlResponse> {
  let request: Partial<ControlRequest>;
  try {
    request = JSON.parse(line) as Partial<ControlRequest>;
  } catch {
    return { ok: false, code: 'bad-request', message: 'the request is not JSON' };
  }
  const command = request?.command;
  if (command === 'status') return { ok: true, command, status: await handler.status() };
  if (command === 'reload') return { command, ...(await handler.reload()) };
  if (command && controlCommands.includes(command)) return { command, ...(await handler.operator(command)) };
  return { ok: false, code: 'bad-request', message: `unknown command ${JSON.stringify(command)}; known: ${controlCommands.join(', ')}` };
}

/** Sends one request to the daemon; errors say what to check. */
export async function sendControlRequest(path: string, request: ControlRequest, timeoutMs = 30_000): Promise<ControlResponse> {
  return new Promise<ControlResponse>((resolve, reject) => {
    const socket = connect(path);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the tandem daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => (received += chunk));
    socket.once('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(received) as ControlResponse);
      } catch {
        reject(new Error(`the tandem daemon on ${path} sent an unreadable answer`));
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
          ? `no tandem daemon is listening on ${path} (is it running? another socket: --socket PATH)`
          : error.code === 'EACCES'
            ? `permission denied on ${path}: the control socket is root-only`
            : `${path}: ${error.message}`;
      reject(new Error(why));
    });
  });
}
