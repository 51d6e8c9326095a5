// The process behind tcp-flows.ts, run inside a lab namespace.
// `server PORT`: echoes every connection's bytes back.
// `client HOST PORT COUNT INTERVAL_MS`: opens COUNT connections (a few at a time), writes
// a line on each every INTERVAL_MS and counts per connection the bytes sent and echoed,
// resets, closes and the longest silence since the last `mark`. Commands on stdin, one a
// line: `report` (prints the figures), `mark` (a new silence window), `quiesce` (stops
// writing). Output: JSON lines, `{"ready":true}` once every connection is open.
import { createConnection, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { FlowFigures } from './tcp-flows.js';

const [mode, ...args] = process.argv.slice(2);
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** Connections opened at once: a burst of SYNs is a burst of conntrack events too. */
const openBatch = 20;

interface Flow {
  socket: Socket;
  figures: FlowFigures;
  lastReceivedAt: number;
}

if (mode === 'server') {
  createServer((socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => socket.destroy());
  }).listen(Number(args[0]), () => print({ listening: true }));
} else if (mode === 'client') {
  const [host = '', port = '', count = '', interval = ''] = args;
  const flows: Flow[] = [];
  let markedAt = Date.now();
  let writing = true;

  const open = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host, port: Number(port) });
      socket.setNoDelay(true);
      const flow: Flow = {
        socket,
        figures: { sent: 0, received: 0, resets: 0, errors: [], closed: false, maxSilenceMs: 0, silentForMs: 0 },
        lastReceivedAt: Date.now(),
      };
      socket.once('connect', () => {
        flows[index] = flow;
        resolve();
      });
      socket.on('data', (data) => {
        const t = Date.now();
        flow.figures.maxSilenceMs = Math.max(flow.figures.maxSilenceMs, t - Math.max(flow.lastReceivedAt, markedAt));
        flow.lastReceivedAt = t;
        flow.figures.received += data.length;
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNRESET') flow.figures.resets++;
        flow.figures.errors.push(error.code ?? error.message);
        reject(error);
      });
      socket.on('close', () => (flow.figures.closed = true));
    });

  const report = () => {
    const t = Date.now();
    print({
      report: flows.map(({ figures, lastReceivedAt }) => ({
        ...figures,
        silentForMs: t - Math.max(lastReceivedAt, markedAt),
        maxSilenceMs: Math.max(figures.maxSilenceMs, t - Math.max(lastReceivedAt, markedAt)),
      })),
    });
  };

  createInterface({ input: process.stdin }).on('line', (command) => {
    if (command === 'report') report();
    else if (command === 'mark') {
      markedAt = Date.now();
      for (const flow of flows) flow.figures.maxSilenceMs = 0;
    } else if (command === 'quiesce') writing = false;
  });

  void (async () => {
    const total = Number(count);
    for (let start = 0; start < total; start += openBatch) {
      const indexes = Array.from({ length: Math.min(openBatch, total - start) }, (_, i) => start + i);
      await Promise.all(indexes.map(open));
    }
    let tick = 0;
    setInterval(() => {
      if (!writing) return;
      tick++;
      for (const { socket, figures } of flows) {
        if (socket.destroyed) continue;
        const line = `tick ${tick}\n`;
        socket.write(line);
        figures.sent += line.length;
      }
    }, Number(interval));
    print({ ready: true });
  })().catch((error: unknown) => {
    print({ failed: (error as Error).message });
    process.exit(1);
  });
} else {
  console.error('usage: tcp-flows-process.ts server PORT | client HOST PORT COUNT INTERVAL_MS');
  process.exit(2);
}
