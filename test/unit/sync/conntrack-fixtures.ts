import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';

/** A masqueraded TCP flow: 10.1.0.2:40000 > 203.0.113.9:80 leaves as 198.51.100.1:61000. */
export const masqueraded: ConntrackEntry = {
  family: 4,
  protocol: 6,
  original: { source: '10.1.0.2', destination: '203.0.113.9', sourcePort: 40000, destinationPort: 80 },
  reply: { source: '203.0.113.9', destination: '198.51.100.1', sourcePort: 80, destinationPort: 61000 },
  // seen-reply, assured, confirmed, src-nat, src-nat-done
  status: 0x2 | 0x4 | 0x8 | 0x10 | 0x80,
  timeoutSeconds: 431999,
  mark: 7,
  zone: 0,
  tcp: { state: 3, windowScaleOriginal: 7, windowScaleReply: 9, flagsOriginal: 0x23, flagsReply: 0x23 },
};

export const ping6: ConntrackEntry = {
  family: 6,
  protocol: 58,
  original: {
    source: '2001:db8::2',
    destination: '2001:db8:1::9',
    sourcePort: 0,
    destinationPort: 0,
    icmp: { id: 4711, type: 128, code: 0 },
  },
  reply: { source: '2001:db8:1::9', destination: '2001:db8::2', sourcePort: 0, destinationPort: 0, icmp: { id: 4711, type: 129, code: 0 } },
  status: 0x8,
  timeoutSeconds: 29,
  mark: 0,
  zone: 3,
};

export const udp: ConntrackEntry = {
  family: 4,
  protocol: 17,
  original: { source: '10.1.0.3', destination: '192.0.2.53', sourcePort: 5353, destinationPort: 53 },
  reply: { source: '192.0.2.53', destination: '10.1.0.3', sourcePort: 53, destinationPort: 5353 },
  status: 0xa,
  timeoutSeconds: 120,
  mark: 0,
  zone: 0,
};
