// Address literals as the kernel sees them: network-order bytes. The model keeps
// normalised strings; netlink speaks bytes, so comparisons happen on bytes and no
// formatting back to text is ever needed.
import { isIPv4, isIPv6 } from 'node:net';
import type { IpFamily } from '../config/model.js';

/** Network-order bytes of an IPv4 or IPv6 literal; throws on anything else. */
export function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // a zone (`fe80::1%eth0`) names a link, not an address tandem could claim
  if (isIPv6(address) && !address.includes('%')) return ipv6Bytes(address);
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

export function ipFamily(bytes: Uint8Array): IpFamily {
  return bytes.length === 4 ? 4 : 6;
}

function ipv6Bytes(address: string): Buffer {
  let text = address;
  const bytes = Buffer.alloc(16);
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    ipBytes(dotted[1]).copy(bytes, 12);
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [head = '', tail] = text.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const headGroups = groupsOf(head);
  const tailGroups = tail === undefined ? [] : groupsOf(tail);
  const groups = [...headGroups, ...new Array<number>(8 - headGroups.length - tailGroups.length).fill(0), ...tailGroups];
  groups.forEach((group, i) => {
    // the IPv4 tail was written already; its placeholder groups are zero
    if (i < 6 || !dotted) bytes.writeUInt16BE(group, i * 2);
  });
  return bytes;
}

/** Whether `address` lies in `network/prefix` (both the same family). */
export function inSubnet(address: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (address.length !== network.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const bits = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    const i = bit / 8;
    if (((address[i] ?? 0) & mask) !== ((network[i] ?? 0) & mask)) return false;
  }
  return true;
}
