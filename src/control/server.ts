// The control socket's server: answers each connection's one request line with the
// handler's response, then closes it. The socket is mode 0600 in a directory only root
// may write; on top of that each connection's peer credentials are checked (a socket
// passed on by a root process to another is still refused), and a client that sends
// nothing, or many clients at once, cannot hold the daemon's descriptors or memory.
import { existsSync } from 'node:fs';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { ServiceList } from '../ipvs/index.js';
import { jsonChunks } from '../lib/json-chunks.js';
import { createStats, type ControlStats } from '../lib/stats.js';
import { peerCredentials as socketPeerCredentials, type PeerCredentials } from '../net/index.js';
import { controlCommands, type ControlHandler, type ControlRefusal, type ControlRequest, type ControlResponse } from './protocol.js';

const maxRequestBytes = 4096;

export interface ControlServerOptions {
  /** Connections open at once; one more is told `busy` and closed. */
  maxConnections?: number;
  /** How long a client may take to send its request line. */
  requestTimeoutMs?: number;
  stats?: ControlStats;
  /** Who is at the other end of a connected socket; undefined when that cannot be read. */
  peerCredentials?: (socket: Socket) => PeerCredentials | undefined;
}

export const defaultMaxConnections = 16;
export const defaultRequestTimeoutMs = 5000;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, handler: ControlHandler, options: ControlServerOptions = {}): Promise<ControlServer> {
    const directory = dirname(path);
    if (!existsSync(directory)) await mkdir(directory, { recursive: true, mode: 0o700 });
    await checkDirectory(directory, path);
    await removeStaleSocket(path);
    const limits = {
      maxConnections: options.maxConnections ?? defaultMaxConnections,
      requestTimeoutMs: options.requestTimeoutMs ?? defaultRequestTimeoutMs,
      stats: options.stats ?? createStats().control,
      peerCredentials: options.peerCredentials ?? descriptorCredentials,
    };
    let open = 0;
    const server = createServer((socket) => {
      open += 1;
      socket.once('close', () => (open -= 1));
      serve(socket, handler, limits, open);
    });
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

/** The users allowed to command the daemon: root and the user it runs as. */
function allowed(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

/**
 * Anyone who may write the directory may replace the socket with one of their own
 * (and catch what `tandem` sends to it) or remove it: it must be root's (or this
 * user's) and writable by no one else.
 */
async function checkDirectory(directory: string, path: string): Promise<void> {
  const info = await lstat(directory);
  const problem = !info.isDirectory()
    ? 'is not a directory'
    : !allowed(info.uid)
      ? `belongs to uid ${info.uid}, not root`
      : (info.mode & 0o022) !== 0
        ? `is writable by ${(info.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')})`
        : undefined;
  if (problem) throw new Error(`${directory}, the directory of the control socket ${path}, ${problem}; choose another --socket`);
}

function descriptorCredentials(socket: Socket): PeerCredentials | undefined {
  // Node keeps a connected socket's descriptor on its handle and has no public API for it.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return socketPeerCredentials(fd);
  } catch {
    return undefined;
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

type Limits = Required<ControlServerOptions>;

function serve(socket: Socket, handler: ControlHandler, limits: Limits, open: number): void {
  socket.on('error', () => socket.destroy());
  const refuse = (reason: ControlRefusal, message?: string) => {
    limits.stats.refused.inc({ reason });
    socket.removeAllListeners('data');
    if (message === undefined) {
      socket.destroy();
      return;
    }
    socket.end(JSON.stringify({ ok: false, code: reason, message } satisfies ControlResponse) + '\n');
    // read and drop what the client still sends, so that its end (and the close) comes;
    // destroying with unread data would reset the connection before it reads the answer
    socket.resume();
    socket.setTimeout(limits.requestTimeoutMs, () => socket.destroy());
  };

  if (open > limits.maxConnections) {
    refuse('busy');
    return;
  }
  const peer = limits.peerCredentials(socket);
  if (!peer || !allowed(peer.uid)) {
    refuse('forbidden', peer ? `uid ${peer.uid} may not use the control socket; run as root` : 'cannot tell who is connecting');
    return;
  }
  // a deadline, not socket.setTimeout's inactivity timer: a client trickling a byte at a time must not hold on
  const deadline = setTimeout(() => refuse('idle'), limits.requestTimeoutMs);
  socket.once('close', () => clearTimeout(deadline));
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline < 0 && buffered.length <= maxRequestBytes) return;
    socket.removeAllListeners('data');
    // the request is in: an operator command may take a while (failover waits for the peer)
    clearTimeout(deadline);
    const line = newline < 0 ? buffered : buffered.slice(0, newline);
    void answer(line, handler)
      .catch((error: unknown): ControlResponse<ServiceList> => ({ ok: false, code: 'internal-error', message: (error as Error).message }))
      .then((response) => {
        if (!response.ok && response.code === 'bad-request') limits.stats.refused.inc({ reason: 'bad-request' });
        return send(socket, response);
      });
  });
}

/** The response line a chunk at a time (the status of a big table is tens of MB: one
 *  JSON.stringify would hold the daemon's event loop), as fast as the client reads it;
 *  a status's rows from the balancer's thread are asked for as they are written. */
async function send(socket: Socket, response: ControlResponse<ServiceList>): Promise<void> {
  try {
    for await (const chunk of jsonChunks(response)) {
      if (socket.destroyed) return;
      if (!socket.write(chunk)) await drained(socket);
    }
  } catch {
    // the rest of the answer could not be had (the balancer's thread stopped in a status):
    // the client is told by an answer cut short, without its newline
    socket.destroy();
    return;
  }
  socket.end('\n');
}

/** Until the socket can take more, or is gone. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

async function answer(line: string, handler: ControlHandler): Promise<ControlResponse<ServiceList>> {
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
