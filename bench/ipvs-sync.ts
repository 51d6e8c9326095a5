// IPVS connection resync of 100,000 connections against the real kernel, inside the IPVS
// VM (started from here on the host), step by step: the commit of new connections into a
// kernel through its backup daemon (what the joining node does), then the dump of them
// (/proc/net/ip_vs_conn) and encode (the active's part), and the decode. The channel
// between the nodes (the engine's) is not part of it.
import { spawn } from 'node:child_process';
import type { IpvsConnection } from '../src/sync/ipvs/index.js';
import { createLogger } from '../src/log.js';
import { ipvsKernelSync } from '../test/ipvs/sync-support.js';
import type { Benchmark } from './benchmark.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const count = Number(process.env.TANDEM_SYNC_BENCH_CONNECTIONS ?? 100_000);

/** `count` established TCP connections from distinct clients to one VIP. */
function connections(total: number): IpvsConnection[] {
  return Array.from({ length: total }, (_, i) => ({
    family: 4,
    protocol: 6,
    flags: 0,
    state: 1,
    client: { address: `172.16.${(i >> 8) & 255}.${i & 255}`, port: 10_000 + (i >> 16) },
    virtual: { address: '192.0.2.100', port: 80 },
    destination: { address: `198.51.100.${(i % 4) + 11}`, port: 80 },
    fwmark: 0,
    timeoutSeconds: 900,
  }));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function runInGuest(): Promise<void> {
  const built = '../dist/sync/ipvs/index.js';
  const { createIpvsTable } = (await import(built)) as typeof import('../src/sync/ipvs/index.js');
  const table = createIpvsTable({ settings: ipvsKernelSync(), syncId: 0, logger });
  try {
    // A commit of new connections is what the joining peer's kernel does in a resync.
    let started = performance.now();
    const committed = await table.commit(connections(count));
    const commitMs = performance.now() - started;
    started = performance.now();
    const records: Uint8Array[] = [];
    for await (const chunk of table.dump()) for (const entry of chunk) records.push(table.encode(entry));
    const dumpMs = performance.now() - started;
    started = performance.now();
    const decoded = records.map((record) => table.decode(record));
    const decodeMs = performance.now() - started;
    console.log(
      `resync of ${count} connections: commit into the kernel ${seconds(commitMs)} (${committed.failed} failed); ` +
        `dump + encode of the ${records.length} held ${seconds(dumpMs)}; decode ${seconds(decodeMs)}; ` +
        `in all ${seconds(commitMs + dumpMs + decodeMs)} without the channel between the nodes (${decoded.length} decoded)`,
    );
  } finally {
    table.close();
  }
}

export const ipvsSyncBenchmark: Benchmark = {
  name: 'ipvs-sync',
  description: `IPVS connection sync: bulk resync of ${count} connections into a peer's kernel (in the IPVS VM)`,
  async run() {
    if (process.env.TANDEM_IPVS_VM === '1') return runInGuest();
    console.log('(booting the IPVS VM: software emulation, CPU ~15× slower than the host)');
    const child = spawn('bash', ['test/ipvs/vm', 'node', '--import', 'tsx', 'bench/main.ts', 'ipvs-sync'], { stdio: 'inherit' });
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (status !== 0) throw new Error(`the IPVS sync benchmark in the VM exited with ${status}`);
  },
};
