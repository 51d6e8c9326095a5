// IP addresses as the kernel carries them (4 or 16 bytes, network order) and as
// ipvsadm prints them (inet_ntop), so tandem's output and keys match ipvsadm's.
import { isIPv4, isIPv6 } from 'node:net';
import type { IpAddress, IpFamily } from '../config/model.js';

export function familyOf(address: string): IpFamily {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

/** The address in network byte order: 4 bytes for IPv4, 16 for IPv6. */
export function addressToBytes(address: IpAddress): Buffer {
  const ipv4 = parseIpv4(address);
  if (ipv4) return ipv4;
  if (!isIPv6(address)) throw new Error(`not an IP address: ${JSON.stringify(address)}`);
  let text = address.split('%')[0] ?? address;
  const bytes = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

// Every netlink request carries addresses: a hand-written dotted-quad parser is much
// cheaper than isIPv4's regular expression and split/map.
function parseIpv4(address: string): Buffer | undefined {
  const bytes = Buffer.allocUnsafe(4);
  let octet = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= address.length; i++) {
    const code = i < address.length ? address.charCodeAt(i) : 46; // '.' ends the last octet
    if (code === 46) {
      if (digits === 0 || index > 3) return undefined;
      bytes[index++] = octet;
      octet = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + (code - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return index === 4 ? bytes : undefined;
}

/** inet_ntop: dotted quad, or RFC 5952 text with glibc's embedded-IPv4 forms. */
export function bytesToAddress(bytes: Uint8Array, family: IpFamily): IpAddress {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // The longest run of two or more zero words is compressed (the first on a tie).
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const embedsIpv4 = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff));
  const hex = (from: number, to: number) => words.slice(from, to).map((w) => w.toString(16));
  if (embedsIpv4) {
    const prefix = bestLength === 5 ? '::ffff:' : '::';
    return `${prefix}${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  if (bestStart < 0) return hex(0, 8).join(':');
  return `${hex(0, bestStart).join(':')}::${hex(bestStart + bestLength, 8).join(':')}`;
}

const canonicalIpv6 = new Map<string, IpAddress>();

/** One spelling per address, so keys built from config and from the kernel agree. Called
 *  for every destination of large tables: IPv4 literals are already canonical (no
 *  leading zeros pass isIPv4), IPv6 spellings are remembered. */
export function canonicalAddress(address: IpAddress): IpAddress {
  if (isIPv4(address)) return address;
  let canonical = canonicalIpv6.get(address);
  if (canonical === undefined) {
    canonical = bytesToAddress(addressToBytes(address), 6);
    if (canonicalIpv6.size >= 65_536) canonicalIpv6.clear();
    canonicalIpv6.set(address, canonical);
  }
  return canonical;
}

/** `192.0.2.1:80` or `[2001:db8::1]:80`, as ipvsadm -n prints an address and port. */
export function formatEndpoint(address: IpAddress, port: number, family: IpFamily = familyOf(address)): string {
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A dotted IPv4 netmask from a prefix length or a dotted mask. */
export function ipv4Netmask(netmask: string): string {
  if (/^\/?\d+$/.test(netmask)) {
    const length = Number(netmask.replace('/', ''));
    if (length > 32) throw new Error(`IPv4 netmask /${length} is longer than 32 bits`);
    const value = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
  }
  if (!isIPv4(netmask)) throw new Error(`not an IPv4 netmask: ${JSON.stringify(netmask)}`);
  return netmask;
}

/** An IPv6 persistence granularity: the kernel takes a prefix length (1–128). */
export function ipv6PrefixLength(netmask: string): number {
  const length = Number(netmask.replace('/', ''));
  if (!Number.isInteger(length) || length < 1 || length > 128) {
    throw new Error(`IPv6 persistence netmask must be a prefix length 1-128, found ${JSON.stringify(netmask)}`);
  }
  return length;
}
