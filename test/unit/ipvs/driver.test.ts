// The generic netlink driver without a kernel: the netlink addon is a stand-in that
// answers only the family lookup and fails every other request as a socket would, so
// only what the driver does on its own shows.
import { describe, expect, it, vi } from 'vitest';
import { IpvsNetlink } from '../../../src/ipvs/genl/driver.js';
import { captureLogger } from '../../support/capture-log.js';

const fake = vi.hoisted(() => {
  const state = { requests: 0 };
  const header = (type: number, length: number, seq: number) => {
    const out = Buffer.alloc(16);
    out.writeUInt32LE(length, 0);
    out.writeUInt16LE(type, 4);
    out.writeUInt32LE(seq, 8);
    return out;
  };
  const addon = {
    open: () => 3,
    port: () => 4242,
    close: () => undefined,
    /** The family lookup: IPVS is family 42; anything else: the socket fails. */
    exchange(_fd: number, request: Buffer | null, lastSeq: number, replies: Buffer): number {
      if (request?.readUInt16LE(4) !== 0x10) {
        state.requests++;
        throw Object.assign(new Error('recvmsg ENOBUFS'), { code: 'ENOBUFS' });
      }
      const familyId = Buffer.from([6, 0, 1, 0, 42, 0, 0, 0]);
      const answer = Buffer.concat([header(0x10, 28, lastSeq), Buffer.alloc(4), familyId, header(2, 20, lastSeq), Buffer.alloc(4)]);
      answer.copy(replies);
      return answer.length;
    },
  };
  return { addon, state };
});

vi.mock('../../../src/ipvs/genl/addon.js', () => ({ netlinkAddon: () => fake.addon }));

describe('IpvsNetlink', () => {
  it('fails a request at once when its socket fails, and logs the error', async () => {
    const { logger, records } = captureLogger();
    const driver = await IpvsNetlink.open({ logger, requestTimeout: 600_000 });
    const listing = driver.listServices();
    await expect(listing).rejects.toThrow('list services: recvmsg ENOBUFS');
    expect(fake.state.requests).toBe(1);
    expect(records.filter((r) => r.event === 'ipvs.socket-error')).toMatchObject([{ failedRequests: 1, err: { code: 'ENOBUFS' } }]);
    driver.close();
  });
});
