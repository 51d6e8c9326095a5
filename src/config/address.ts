// IP literals as the model keeps them: IPv4 in strict dotted-quad form, IPv6 compressed
// per RFC 5952 (lower case, longest zero run as ::, embedded IPv4 kept for ::ffff:a.b.c.d).
import { isIPv4, isIPv6 } from 'node:net';
import type { IpAddress, IpFamily } from './model.js';

export interface ParsedIp {
  address: IpAddress;
  family: IpFamily;
}

export function parseIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) return { address: text, family: 4 };
  if (isIPv6(text) && !text.includes('%')) return { address: normaliseIpv6(text), family: 6 };
  return undefined;
}

export function ipToBigInt(address: IpAddress, family: IpFamily): bigint {
  const groups = family === 4 ? address.split('.').map(Number) : expandIpv6(address);
  const width = family === 4 ? 8n : 16n;
  return groups.reduce((value, group) => (value << width) | BigInt(group), 0n);
}

export function addressBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Whether `address` lies in `network/prefix` (same family only). */
export function subnetContains(network: ParsedIp, prefix: number, address: ParsedIp): boolean {
  if (network.family !== address.family) return false;
  const shift = BigInt(addressBits(network.family) - prefix);
  return ipToBigInt(network.address, network.family) >> shift === ipToBigInt(address.address, address.family) >> shift;
}

/** Prefix length of a contiguous dotted-quad netmask such as 255.255.255.0. */
export function netmaskToPrefix(mask: string): number | undefined {
  if (!isIPv4(mask)) return undefined;
  const bits = ipToBigInt(mask, 4).toString(2).padStart(32, '0');
  const prefix = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  return bits.slice(prefix).includes('1') ? undefined : prefix;
}

export function prefixToNetmask(prefix: number): string {
  const value = prefix === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - prefix)) - 1n);
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
}

function expandIpv6(text: string): number[] {
  let head = text;
  const tail: number[] = [];
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = embedded[1].split('.').map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    head = text.slice(0, text.length - embedded[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const [left = '', right] = head.split('::');
  const leftGroups = parse(left);
  const rightGroups = [...parse(right ?? ''), ...tail];
  if (right === undefined) return [...leftGroups, ...tail];
  const zeros = new Array<number>(8 - leftGroups.length - rightGroups.length).fill(0);
  return [...leftGroups, ...zeros, ...rightGroups];
}

function normaliseIpv6(text: string): string {
  const groups = expandIpv6(text);
  const isMappedIpv4 = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (isMappedIpv4) {
    const [high = 0, low = 0] = groups.slice(6);
    return `::ffff:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  // RFC 5952: compress the longest run (first one on ties) of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
