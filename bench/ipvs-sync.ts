// IPVS connection resync of 100,000 connections against the real kernel, inside the IPVS
// VM (started from here on the host): the active's table is filled through the backup
// daemon (a commit), then the bulk resync a joining node gets is timed step by step:
// dump (/proc/net/ip_vs_conn) and encode on the active, decode and commit on the other
// director (a process in its own namespace, test/ipvs/sync-bridge.ts), until its kernel
// holds them all. The channel between them (the engine's) is not part of it.
import { spawn } from 'node:child_process';
import type { IpvsConnection } from '../src/sync/ipvs/index.js';
import { createLogger } from '../src/log.js';
import { Lab } from '../test/support/netns.js';
import { ipvsKernelSync, TableBridge } from '../test/ipvs/sync-support.js';
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
  const lab = await Lab.create();
  try {
    let started = performance.now();
    const filled = await table.commit(connections(count));
    console.log(
      `fill the active's table: commit of ${count} connections ${seconds(performance.now() - started)} (${filled.failed} failed)`,
    );

    const peer = await TableBridge.start(lab, await lab.addHost('peer'));
    started = performance.now();
    const records: string[] = [];
    for await (const chunk of table.dump()) for (const entry of chunk) records.push(Buffer.from(table.encode(entry)).toString('hex'));
    const dumped = performance.now() - started;
    const committed = await peer.commit(records);
    const total = performance.now() - started;
    const { total: held } = await peer.count();
    console.log(
      `resync ${records.length} connections: dump + encode ${seconds(dumped)}, decode + commit on the peer ${seconds(committed.ms)} ` +
        `(${committed.failed} failed), ${seconds(total)} in all with the handover between the processes; the peer's kernel holds ${held}`,
    );
    await peer.process.stop();
  } finally {
    table.close();
    await lab.destroy();
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
