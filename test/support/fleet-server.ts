// A fleet of real servers on loopback for scheduler tests and benchmarks, in a process of
// its own so its work does not count against the checking process's event loop.
// `node --import tsx fleet-server.ts COUNT DELAY_MS`: listens on COUNT loopback ports,
// prints {"ports": [...]} and answers an HTTP/1.0-style request after DELAY_MS. Reads
// commands on stdin: `stats` prints {"open", "pending", "maxPending", "requests"} (pending:
// accepted, not yet answered — a checker holds a slot for at least that long); `reset`
// restarts maxPending.
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';

const count = Number(process.argv[2]);
const delay = Number(process.argv[3] ?? 0);
let open = 0;
let pending = 0;
let maxPending = 0;
let requests = 0;

function serve(socket: import('node:net').Socket): void {
  open++;
  pending++;
  maxPending = Math.max(maxPending, pending);
  let answered = false;
  const settle = () => {
    if (!answered) pending--;
    answered = true;
  };
  socket.on('close', () => {
    open--;
    settle();
  });
  socket.on('error', () => undefined);
  socket.once('data', () => {
    requests++;
    const answer = () => {
      settle();
      socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfleet\n');
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
}

const servers: Server[] = [];
const ports: number[] = [];
for (let i = 0; i < count; i++) {
  const server = createServer(serve);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 64 }, resolve));
  ports.push((server.address() as { port: number }).port);
}
process.stdout.write(JSON.stringify({ ports }) + '\n');

createInterface({ input: process.stdin }).on('line', (command) => {
  if (command === 'stats') process.stdout.write(JSON.stringify({ open, pending, maxPending, requests }) + '\n');
  if (command === 'reset') maxPending = pending;
});
process.stdin.on('end', () => process.exit(0));
