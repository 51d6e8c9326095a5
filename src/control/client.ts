// The control socket's client: one request, one response.
import { connect } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';

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
      if (received !== '' && !received.endsWith('\n')) {
        reject(new Error(`the tandem daemon on ${path} cut its answer short; ask again`));
        return;
      }
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
