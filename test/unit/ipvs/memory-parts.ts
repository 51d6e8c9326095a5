// What the balancer's thread runs in unit tests in place of the kernel's IPVS and real
// checks (BalancerThreadOptions.parts): an in-memory table, checks that pass.
import type { CheckResult } from '../../../src/health/result.js';
import { MemoryKernel } from './memory-kernel.js';

export const openKernel = (): Promise<MemoryKernel> => Promise.resolve(new MemoryKernel());

export const runCheck = (): Promise<CheckResult> => Promise.resolve({ outcome: 'pass', message: 'in memory', durationMs: 0 });
