// Names the legacy formats allow where an address or a port is expected, resolved the
// way the original tools did: host names through /etc/hosts then DNS (gethostbyname),
// service names through /etc/services for the service's protocol (getservbyname).
// Both are injectable so tests and tools never depend on the machine's files.
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseIp } from '../lib/address.js';
import type { IpAddress } from './model.js';

/** Addresses for a host name, IPv4 first; empty when the name does not resolve. */
export type HostResolver = (name: string) => Promise<IpAddress[]>;

/** Port for a service name and protocol; undefined when unknown. */
export type ServiceResolver = (name: string, protocol: 'tcp' | 'udp') => number | undefined;

export interface SystemHostResolverOptions {
  hostsFile?: string;
  /** getaddrinfo cannot be cancelled; a lookup slower than this counts as unresolvable. */
  dnsTimeoutMs?: number;
}

export function systemHostResolver(options: SystemHostResolverOptions = {}): HostResolver {
  const hostsFile = options.hostsFile ?? '/etc/hosts';
  const dnsTimeoutMs = options.dnsTimeoutMs ?? 5000;
  return async (name) => {
    const hostsText = await readFile(hostsFile, 'utf8').catch(() => '');
    const fromHosts = hostsTableResolver(hostsText)(name);
    if (fromHosts.length > 0) return fromHosts;
    return lookupWithTimeout(name, dnsTimeoutMs);
  };
}

async function lookupWithTimeout(name: string, timeoutMs: number): Promise<IpAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<IpAddress[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs);
  });
  const lookup = dns
    .lookup(name, { all: true })
    .then((entries) => orderByFamily(entries.map((entry) => entry.address)))
    .catch(() => []);
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A resolver over the text of a hosts(5) file. */
export function hostsTableResolver(text: string): (name: string) => IpAddress[] {
  const table = new Map<string, IpAddress[]>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const parsed = address !== undefined ? parseIp(address) : undefined;
    if (parsed === undefined) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      table.set(key, [...(table.get(key) ?? []), parsed.address]);
    }
  }
  return (name) => orderByFamily(table.get(name.toLowerCase()) ?? []);
}

function orderByFamily(addresses: string[]): IpAddress[] {
  const parsed = addresses.map(parseIp).filter((p) => p !== undefined);
  return [...parsed.filter((p) => p.family === 4), ...parsed.filter((p) => p.family === 6)].map((p) => p.address);
}

/** A resolver over the text of a services(5) file (names and aliases). */
export function servicesTableResolver(text: string): ServiceResolver {
  const table = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, portAndProtocol, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    const match = /^(\d+)\/(tcp|udp)$/.exec(portAndProtocol ?? '');
    if (name === undefined || match === null) continue;
    for (const alias of [name, ...aliases]) {
      const key = `${alias}/${match[2]}`;
      if (!table.has(key)) table.set(key, Number(match[1]));
    }
  }
  return (name, protocol) => table.get(`${name}/${protocol}`);
}

/** /etc/services, read once on first use. */
export function systemServiceResolver(servicesFile = '/etc/services'): ServiceResolver {
  let resolver: ServiceResolver | undefined;
  return (name, protocol) => {
    if (resolver === undefined) {
      let text = '';
      try {
        text = readFileSync(servicesFile, 'utf8');
      } catch {
        // No services file (minimal containers): every name is then unknown, and the
        // error says which name and where.
      }
      resolver = servicesTableResolver(text);
    }
    return resolver(name, protocol);
  };
}
