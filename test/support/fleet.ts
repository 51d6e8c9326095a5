// Starts fleet-server.ts as a child process and talks to it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { stopChild } from './netns.js';

export interface FleetStats {
  open: number;
  pending: number;
  maxPending: number;
  requests: number;
}

export interface Fleet {
  ports: number[];
  stats(): Promise<FleetStats>;
  resetMaxPending(): void;
  stop(): Promise<void>;
}

export async function startFleet(count: number, answerDelayMs = 0): Promise<Fleet> {
  const script = fileURLToPath(new URL('./fleet-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(count), String(answerDelayMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = () => new Promise<string>((resolve) => waiting.push(resolve));
  const { ports } = JSON.parse(await nextLine()) as { ports: number[] };
  return {
    ports,
    async stats() {
      const reply = nextLine();
      child.stdin.write('stats\n');
      return JSON.parse(await reply) as FleetStats;
    },
    resetMaxPending: () => child.stdin.write('reset\n'),
    async stop() {
      child.stdin.end();
      await stopChild(child);
    },
  };
}
