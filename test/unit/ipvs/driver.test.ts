// The generic netlink driver without a kernel: the netlink addon is a stand-in that
// answers only the family lookup and fails every other request as a socket would, so
// only what the driver does on its own shows; dumpEach answers as a test tells it.
import { describe, expect, it, vi } from 'vitest';
import { putDestination } from '../../../src/ipvs/genl/codec.js';
import { IpvsNetlink } from '../../../src/ipvs/genl/driver.js';
import type { IpvsDestination, ServiceIdentity } from '../../../src/ipvs/table.js';
import { AttributeWriter } from '../../../src/lib/netlink-attributes.js';
import { captureLogger } from '../../support/capture-log.js';

const fake = vi.hoisted(() => {
  const state: {
    requests: number;
    dumpEach?: (fd: number, requests: Buffer, progress: Uint32Array, replies: Buffer) => number;
  } = { requests: 0 };
  const header = (type: number, length: number, seq: number) => {
    const out = Buffer.alloc(16);
    out.writeUInt32LE(length, 0);
    out.writeUInt16LE(type, 4);
    out.writeUInt32LE(seq, 8);
    return out;
  };
  const addon = {
    header,
    dumpEach: (fd: number, requests: Buffer, progress: Uint32Array, replies: Buffer) => {
      if (!state.dumpEach) throw new Error('no dumps expected');
      return state.dumpEach(fd, requests, progress, replies);
    },
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

vi.mock('../../../src/lib/netlink-addon.js', () => ({ netlinkAddon: () => fake.addon }));

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

  const service = (port: number): ServiceIdentity => ({ family: 4, protocol: 'tcp', address: '192.0.2.1', port, fwmark: 0 });
  const destination = (weight: number): IpvsDestination => ({
    family: 4,
    address: '10.0.0.1',
    port: 80,
    forwarding: 'masq',
    weight,
    upperThreshold: 0,
    lowerThreshold: 0,
  });

  /** Answers one dump request per call (as with a full reply buffer): `weights(index)`
   *  destinations for the request's service, then its end with `errno(index)`. */
  function answerDumps(weights: (index: number) => number[], errno: (index: number) => number = () => 0): number[] {
    const seqs: number[] = [];
    fake.state.dumpEach = (_fd, requests, progress, replies) => {
      const at = progress[0] ?? 0;
      const seq = requests.readUInt32LE(at + 8);
      seqs.push(seq);
      const index = seqs.length - 1;
      const out = new AttributeWriter();
      for (const weight of weights(index))
        out.message(42, 2, seq, 0, 5, 1, (attributes) => putDestination(attributes, destination(weight), true));
      const done = Buffer.alloc(4);
      done.writeInt32LE(-errno(index));
      const answer = Buffer.concat([out.toBuffer(), fake.addon.header(3, 20, seq), done]);
      answer.copy(replies);
      progress[0] = at + requests.readUInt32LE(at);
      return answer.length;
    };
    return seqs;
  }

  it('reads the destinations of many services, one dump after another, each list to its service', async () => {
    const driver = await IpvsNetlink.open({ requestTimeout: 600_000 });
    const seqs = answerDumps((index) => (index === 1 ? [] : [index + 1, index + 10]));
    const lists = await driver.listDestinationsOf([service(1), service(2), service(3)]);
    expect(lists.map((list) => list.map((d) => d.weight))).toEqual([[1, 10], [], [3, 12]]);
    expect(seqs).toEqual([seqs[0], (seqs[0] ?? 0) + 1, (seqs[0] ?? 0) + 2]);
    driver.close();
  });

  it('names the service whose dump the kernel could not finish', async () => {
    const driver = await IpvsNetlink.open({ requestTimeout: 600_000 });
    answerDumps(
      () => [1],
      (index) => (index === 1 ? 3 : 0),
    );
    await expect(driver.listDestinationsOf([service(1), service(2), service(3)])).rejects.toThrow(
      'list destinations of TCP 192.0.2.1:2: ESRCH',
    );
    driver.close();
  });
});
