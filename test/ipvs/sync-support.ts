// Shared by the sync tests of the VM tier: the loopback daemons' settings as normalise
// fills them in, and the director's connection table read through the table's parser.
import { readFileSync } from 'node:fs';
import { setTimeout } from 'node:timers/promises';
import type { IpvsKernelSyncSpec } from '../../src/config/model.js';
import { forwardingLookup, parseProcLine, toConnection } from '../../src/sync/ipvs/proc.js';
import type { IpvsConnection } from '../../src/sync/ipvs/index.js';

export const sleep = (ms: number) => setTimeout(ms);

/** `sync.ipvs.kernel` as normalise fills it in by default (a unit test holds them equal), and any overrides. */
export function ipvsKernelSync(overrides: Partial<IpvsKernelSyncSpec> = {}): IpvsKernelSyncSpec {
  return { ...defaultIpvsKernelSync, ...overrides };
}

export const defaultIpvsKernelSync: IpvsKernelSyncSpec = {
  group: '239.255.84.78',
  port: 8850,
  threshold: 3,
  period: 0,
  refreshPeriod: 10,
  retries: 0,
  persistMode: false,
  ports: 1,
};

/** The connections of /proc/net/ip_vs_conn (of this namespace, or of the process `pid`'s). */
export function kernelConnections(pid?: number): Promise<IpvsConnection[]> {
  const text = readFileSync(pid === undefined ? '/proc/net/ip_vs_conn' : `/proc/${pid}/net/ip_vs_conn`, 'utf8');
  const forwarding = forwardingLookup([]);
  return Promise.resolve(
    text.split('\n').flatMap((line, index) => {
      const parsed = parseProcLine(line, index + 1);
      return parsed ? [toConnection(parsed, forwarding)] : [];
    }),
  );
}

/** Resolves once `probe` holds; throws naming `what` after `timeoutMs`. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}
