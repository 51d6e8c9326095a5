// Long-lived TCP flows for the sync tests of the VM tier, run in a lab namespace:
//   flows.ts server PORT                       echoes every byte back
//   flows.ts client ADDRESS PORT COUNT EVERY   COUNT connections, each sending a chunk every EVERY ms
// The client answers lines on stdin: `report` prints a JSON report; `finish` stops sending,
// waits (up to 30 s) until every connection got back what it sent, prints the report, exits.
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface FlowReport {
  open: number;
  /** Connections that saw an error or were closed by the other side (a reset, most likely). */
  broken: Array<{ index: number; error: string }>;
  sent: number;
  received: number;
  /** The longest time since a connection last received data, ms. */
  stalest: number;
  /** Connections whose received bytes equal their sent bytes. */
  balanced: number;
}

const chunk = Buffer.from('0123456789abcdef');

function serve(port: number): void {
  createServer((socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => socket.destroy());
  }).listen(port, () => console.log(JSON.stringify({ listening: port })));
}

interface Flow {
  socket: Socket;
  sent: number;
  received: number;
  lastReceived: number;
  error?: string;
}

async function client(address: string, port: number, count: number, every: number): Promise<void> {
  const flows: Flow[] = [];
  for (let index = 0; index < count; index++) {
    const socket = connect({ host: address, port });
    const flow: Flow = { socket, sent: 0, received: 0, lastReceived: Date.now() };
    socket.on('data', (data) => {
      flow.received += data.length;
      flow.lastReceived = Date.now();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (flow.error ??= error.code ?? error.message));
    socket.on('close', () => (flow.error ??= 'closed'));
    await new Promise<void>((resolve) => {
      socket.once('connect', resolve);
      socket.once('error', resolve);
    });
    flows.push(flow);
  }
  let sending = true;
  const timer = setInterval(() => {
    if (!sending) return;
    for (const flow of flows) {
      if (flow.error !== undefined) continue;
      flow.socket.write(chunk);
      flow.sent += chunk.length;
    }
  }, every);
  const report = (): FlowReport => {
    const now = Date.now();
    return {
      open: flows.filter((flow) => flow.error === undefined).length,
      broken: flows.flatMap((flow, index) => (flow.error === undefined ? [] : [{ index, error: flow.error }])),
      sent: flows.reduce((sum, flow) => sum + flow.sent, 0),
      received: flows.reduce((sum, flow) => sum + flow.received, 0),
      stalest: Math.max(0, ...flows.filter((flow) => flow.error === undefined).map((flow) => now - flow.lastReceived)),
      balanced: flows.filter((flow) => flow.sent === flow.received).length,
    };
  };
  console.log(JSON.stringify({ connected: flows.filter((flow) => flow.error === undefined).length }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'report') console.log(JSON.stringify(report()));
    if (line === 'finish') {
      sending = false;
      clearInterval(timer);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && flows.some((flow) => flow.error === undefined && flow.received < flow.sent))
        await new Promise((resolve) => setTimeout(resolve, 100));
      console.log(JSON.stringify(report()));
      for (const flow of flows) flow.socket.destroy();
      return;
    }
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') serve(Number(args[0]));
else if (mode === 'client') await client(args[0] ?? '', Number(args[1]), Number(args[2]), Number(args[3]));
else throw new Error(`usage: flows.ts server PORT | client ADDRESS PORT COUNT EVERY_MS`);
