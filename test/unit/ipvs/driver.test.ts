// The generic netlink driver without a kernel: the netlink package's socket is a stand-in
// that never answers, so only what the driver does on its own shows.
import { describe, expect, it, vi } from 'vitest';
import { IpvsNetlink } from '../../../src/ipvs/genl/driver.js';
import { captureLogger } from '../../support/capture-log.js';

const fake = await vi.hoisted(async () => {
  const { EventEmitter } = await import('node:events');
  const state = { requests: 0 };
  const socket = Object.assign(new EventEmitter(), {
    address: () => ({ port: 4242 }),
    request: () => {
      state.requests++;
      return new Promise<never>(() => undefined);
    },
    close: () => undefined,
  });
  return { socket, state };
});

vi.mock('netlink', async (importOriginal) => ({
  ...(await importOriginal<typeof import('netlink')>()),
  createGenericNetlink: () => ({ socket: fake.socket, ctrlRequest: () => Promise.resolve([{ familyId: 42 }]) }),
}));

describe('IpvsNetlink', () => {
  it('fails the requests awaiting a reply at once when its socket fails, and logs the error', async () => {
    const { logger, records } = captureLogger();
    const driver = await IpvsNetlink.open({ logger, requestTimeout: 600_000 });
    const listing = driver.listServices();
    await vi.waitFor(() => expect(fake.state.requests).toBe(1));
    fake.socket.emit('error', Object.assign(new Error('recvmsg ENOBUFS'), { code: 'ENOBUFS' }));
    await expect(listing).rejects.toThrow('list services: recvmsg ENOBUFS');
    expect(records.filter((r) => r.event === 'ipvs.socket-error')).toMatchObject([{ failedRequests: 1, err: { code: 'ENOBUFS' } }]);
    driver.close();
  });
});
