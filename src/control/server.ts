// The control socket's server: answers each connection's one request line with the
// handler's response, then closes it.
import { existsSync } from 'node:fs';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { controlCommands, type ControlHandler, type ControlRequest, type ControlResponse } from './protocol.js';

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
  let request: Partial<ControlRequest> | null;
  try {
    request = JSON.parse(line) as Partial<ControlRequest> | null;
  } catch {
    return { ok: false, code: 'bad-request', message: 'the request is not JSON' };
  }
  const command = request?.command;
  if (command === 'status') return { ok: true, command, status: await handler.status() };
  if (command === 'reload') return { command, ...(await handler.reload()) };
  if (command === 'conns') {
    return handler.conns
      ? { ok: true, command, conns: handler.conns() }
      : { ok: false, command, code: 'bad-request', message: 'this daemon does not sync connections' };
  }
  if (command && controlCommands.includes(command)) return { command, ...(await handler.operator(command)) };
  return { ok: false, code: 'bad-request', message: `unknown command ${JSON.stringify(command)}; known: ${controlCommands.join(', ')}` };
}
