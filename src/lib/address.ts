// IP addresses, the one place they are parsed and printed. The model keeps text in the
// form inet_ntop prints (ipvsadm, `ip addr`), so keys built from the configuration and
// from the kernel agree; netlink speaks network-order bytes (4 for IPv4, 16 for IPv6).
import { isIPv6 } from 'node:net';

/** An IPv4 or IPv6 literal, canonical: strict dotted quad, or IPv6 as inet_ntop prints it. */
export type IpAddress = string;

export type IpFamily = 4 | 6;

export interface ParsedIp {
  address: IpAddress;
  family: IpFamily;
}

/** An address and its prefix length, as in `192.0.2.10/24`. */
export interface IpPrefix extends ParsedIp {
  prefix: number;
}

/** The canonical form and family of an IP literal; undefined for anything else (a zone included). */
export function parseIp(text: string): ParsedIp | undefined {
  const bytes = literalBytes(text);
  if (bytes === undefined) return undefined;
  return bytes.length === 4 ? { address: text, family: 4 } : { address: formatIp(bytes, 6), family: 6 };
}

/** `address[/prefix]`; the prefix defaults to a host route (32 or 128). */
export function parseIpPrefix(text: string): IpPrefix | undefined {
  const [addressText = '', prefixText, ...rest] = text.split('/');
  const ip = parseIp(addressText);
  if (ip === undefined || rest.length > 0) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  if (prefixText === undefined) return { ...ip, prefix: bits };
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return { ...ip, prefix: Number(prefixText) };
}

/** Network-order bytes of an IP literal; throws on anything else. */
export function ipBytes(address: string): Buffer {
  const bytes = literalBytes(address);
  if (bytes === undefined) throw new Error(`not an IP address: ${JSON.stringify(address)}`);
  return bytes;
}

/** The family of an IP literal; throws on anything else. */
export function familyOf(address: string): IpFamily {
  return ipBytes(address).length === 4 ? 4 : 6;
}

/** inet_ntop: dotted quad, or RFC 5952 text with glibc's embedded-IPv4 forms. The kernel
 *  carries IPv4 in 16-byte fields too, hence the family. */
export function formatIp(bytes: Uint8Array, family: IpFamily): IpAddress {
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

/** The canonical spelling of a valid literal; throws on anything else. Called for every
 *  destination of large tables: IPv6 spellings are remembered. */
export function canonicalAddress(address: IpAddress): IpAddress {
  let canonical = canonicalIpv6.get(address);
  if (canonical !== undefined) return canonical;
  const bytes = ipBytes(address);
  if (bytes.length === 4) return address;
  canonical = formatIp(bytes, 6);
  if (canonicalIpv6.size >= 65_536) canonicalIpv6.clear();
  canonicalIpv6.set(address, canonical);
  return canonical;
}

/** `192.0.2.1:80` or `[2001:db8::1]:80`, as ipvsadm -n prints an address and port. */
export function formatEndpoint(address: IpAddress, port: number, family: IpFamily = familyOf(address)): string {
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Whether `address` lies in `network/prefix` (both bytes of the same family). */
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

/** Prefix length of a contiguous dotted-quad netmask such as 255.255.255.0. */
export function netmaskToPrefix(mask: string): number | undefined {
  const bytes = ipv4Bytes(mask);
  if (bytes === undefined) return undefined;
  const value = bytes.readUInt32BE(0);
  const prefix = Math.clz32(~value);
  return ipv4MaskBits(prefix) === value ? prefix : undefined;
}

/** The dotted-quad netmask of an IPv4 prefix length (0–32). */
export function prefixToNetmask(prefix: number): string {
  const mask = ipv4MaskBits(prefix);
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
}

/** A dotted IPv4 netmask from a prefix length (`24`, `/24`) or a dotted mask. */
export function ipv4Netmask(netmask: string): string {
  if (/^\/?\d+$/.test(netmask)) {
    const length = Number(netmask.replace('/', ''));
    if (length > 32) throw new Error(`IPv4 netmask /${length} is longer than 32 bits`);
    return prefixToNetmask(length);
  }
  if (ipv4Bytes(netmask) === undefined) throw new Error(`not an IPv4 netmask: ${JSON.stringify(netmask)}`);
  return netmask;
}

/** An IPv6 netmask: the kernel takes a prefix length (1–128), written `64` or `/64`. */
export function ipv6PrefixLength(netmask: string): number {
  const length = Number(netmask.replace('/', ''));
  if (!Number.isInteger(length) || length < 1 || length > 128) {
    throw new Error(`IPv6 netmask must be a prefix length 1-128, found ${JSON.stringify(netmask)}`);
  }
  return length;
}

function ipv4MaskBits(prefix: number): number {
  // a shift by 32 is a shift by 0 in JavaScript
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function literalBytes(text: string): Buffer | undefined {
  // a zone (`fe80::1%eth0`) names a link, not an address tandem could claim or balance
  return ipv4Bytes(text) ?? (isIPv6(text) && !text.includes('%') ? ipv6Bytes(text) : undefined);
}

function ipv4Bytes(address: string): Buffer | undefined {
  const value = ipv4Number(address);
  if (value === undefined) return undefined;
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

// Every netlink request carries addresses, and listings sort by them: a hand-written
// dotted-quad parser is much cheaper than node:net's isIPv4 (a regular expression) and
// split/map. It takes what isIPv4 takes: no leading zeros.
/** A dotted quad as a 32-bit number (network order read as big-endian); undefined for anything else. */
export function ipv4Number(address: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let octets = 0;
  for (let i = 0; i <= address.length; i++) {
    const code = i < address.length ? address.charCodeAt(i) : 46; // '.' ends the last octet
    if (code === 46) {
      if (digits === 0 || octets > 3) return undefined;
      value = value * 256 + octet;
      octets++;
      octet = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + (code - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return octets === 4 ? value : undefined;
}

/** Bytes of a literal isIPv6 accepted. */
function ipv6Bytes(text: string): Buffer {
  const bytes = Buffer.alloc(16);
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  const hex = dotted === undefined ? text : `${text.slice(0, -dotted.length)}0:0`;
  const [head = '', tail] = hex.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const headGroups = groupsOf(head);
  const tailGroups = tail === undefined ? [] : groupsOf(tail);
  const zeros = new Array<number>(8 - headGroups.length - tailGroups.length).fill(0);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  if (dotted !== undefined) ipv4Bytes(dotted)?.copy(bytes, 12);
  return bytes;
}

/** `host:port`, an IPv6 host in brackets (as in a URL). */
export function formatHostPort({ host, port }: { host: string; port: number }): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
