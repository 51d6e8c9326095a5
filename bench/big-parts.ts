// The kernel and the checks of the big bench (big.ts), on the event loop or in the balancer's
// thread (BalancerThreadOptions.parts): an in-memory IPVS table that answers on a later turn,
// as the kernel's socket does, and TCP checks that pass after a second without a socket.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { IpvsOperation, IpvsService, ServiceIdentity } from '../src/ipvs/index.js';
import { MemoryKernel } from '../test/unit/ipvs/memory-kernel.js';

/** The in-memory table answering each request on a later turn of the event loop, as the
 *  kernel's socket does (MemoryKernel answers at once, which would hide the yields). */
export class SocketLikeKernel extends MemoryKernel {
  /** A dump's worth of services per turn, as the kernel's answer arrives in messages. */
  override async listServices() {
    const services: IpvsService[] = [];
    for (const service of this.services.values()) {
      if (services.length % 1000 === 0) await yieldToEventLoop();
      services.push({ ...service, destinations: [] });
    }
    return services;
  }

  override async getService(service: ServiceIdentity) {
    await yieldToEventLoop();
    return super.getService(service);
  }

  override async listDestinations(service: ServiceIdentity) {
    await yieldToEventLoop();
    return super.listDestinations(service);
  }

  override async apply(operations: readonly IpvsOperation[]) {
    await yieldToEventLoop();
    return super.apply(operations);
  }
}

/** Aborted (by disable on close) it ends at once, as a real check closes its socket. */
export const runCheck = (_check: unknown, signal: AbortSignal) =>
  new Promise<{ outcome: 'pass'; message: string; durationMs: number }>((resolve) => {
    const result = { outcome: 'pass' as const, message: 'bench', durationMs: 1000 };
    const timer = setTimeout(() => resolve(result), 1000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(result);
    });
  });

export const openKernel = (): Promise<SocketLikeKernel> => Promise.resolve(new SocketLikeKernel());
