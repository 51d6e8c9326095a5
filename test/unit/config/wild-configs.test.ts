// Every file of the corpus of real configurations (../shared/wild-configs, sources in its
// SOURCES.md) and what tandem must make of it: the key values of the model for a file it
// reads, the first error for one it must refuse. A file without an expectation here, or
// an expectation without its file, fails; so does a checkout without the corpus beside it.
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatDiagnostic,
  loadConfig,
  type ClaimedAddress,
  type ConfigFormat,
  type Model,
  type NodeSpec,
  type Tunnel,
  type VirtualService,
} from '../../../src/config/index.js';
import { configError, noHosts, services, where, wildConfig } from './helpers.js';

const corpus = wildConfig('');

interface Loads {
  format: ConfigFormat;
  /** `name address[ private address]` of each node. */
  nodes: string[];
  network: Model['network'];
  /** `address/prefix on label`. */
  natRouter?: string;
  /** One line per virtual service, as `digest` writes it; with `serviceCount`, some of them. */
  services: string[];
  /** How many virtual services a long file has, when `services` shows only some. */
  serviceCount?: number;
}

interface Refused {
  /** `line:column key` of the first error, and a part of its text. */
  firstError: string;
  says: string;
  errors: number;
}

/** A virtual service in one line: what it matches, how it balances and checks, and its
 *  real servers (`address:port forwarding[ tunnel] weight`; port 0 is the service's). */
function digest(service: VirtualService): string {
  const { vip, healthCheck: check, persistence } = service;
  const matches = [
    service.fwmark !== undefined ? `fwmark ${service.fwmark}` : undefined,
    vip !== undefined ? claimed(vip) : undefined,
    `port ${service.port}`,
  ];
  const balancing = [
    service.scheduler,
    persistence !== undefined
      ? `persistent ${persistence.timeout}s${persistence.netmask !== undefined ? ` per ${persistence.netmask}` : ''}`
      : undefined,
  ];
  const checking =
    check.kind === 'none'
      ? 'not checked'
      : `${check.kind} every ${check.interval / 1000}s, out after ${check.failures}, back after ${check.reentryChecks}${check.quiesceServer ? ', quiesce' : ''}`;
  const servers = service.realServers.map(
    (s) =>
      `${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port} ${s.forwarding}${s.tunnel !== undefined ? ` ${tunnel(s.tunnel)}` : ''} ${s.weight}${s.active ? '' : ' inactive'}`,
  );
  const head = [`${service.name}${service.active ? '' : ' (inactive)'}: ${service.protocol}`, ...matches].filter(Boolean).join(' ');
  return `${head}; ${balancing.filter(Boolean).join(' ')}; ${checking}; ${servers.join(', ')}`;
}

function claimed({ address, prefix, label, device }: ClaimedAddress): string {
  const on = label ?? device;
  return `${address}/${prefix}${on !== undefined ? ` on ${on}` : ''}`;
}

function tunnel({ type, port, checksum }: Tunnel): string {
  return `${type}${port !== undefined ? `:${port}` : ''}${checksum !== 'none' ? ` ${checksum}` : ''}`;
}

function node({ name, address, privateAddress }: NodeSpec): string {
  return `${name} ${address}${privateAddress !== undefined ? ` private ${privateAddress}` : ''}`;
}

const expected: Record<string, Loads | Refused> = {
  // Piranha lvs.cf
  'piranha-sample-fwmark-fos.cf': {
    format: 'lvs.cf',
    nodes: ['primary 207.175.44.150 private 10.11.12.1', 'backup 207.175.44.196 private 10.11.12.2'],
    network: 'nat',
    natRouter: '192.168.10.100/32 on eth1:1',
    services: [
      'server1: tcp fwmark 100 207.175.44.252/32 on eth0:1 port 80; wlc persistent 60s per 255.255.255.255; send-expect every 5s, out after 1, back after 2; 192.168.10.2:0 masq 1, 192.168.10.3:0 masq 1',
      'server2 (inactive): tcp 207.175.44.253/32 on eth0:1 port 21; wlc; send-expect every 5s, out after 1, back after 2; 192.168.10.2:0 masq 1, 192.168.10.3:0 masq 1',
    ],
  },
  'ssocopsacc-vpn443-noaddr.cf': { firstError: '1:1 primary', says: 'no primary director', errors: 2 },
  'ssocopsacc-two-virtuals-noaddr.cf': { firstError: '1:1 primary', says: 'no primary director', errors: 3 },
  'cayu-squid-dr-pmask-no-persistent.cf': {
    format: 'lvs.cf',
    nodes: ['primary 10.1.2.103', 'backup 10.1.2.105'],
    network: 'direct',
    services: [
      // timeout = 2 and nanny's reentry of 180 s: 90 good checks
      'proxy: tcp 10.1.2.106/24 on eth0:0 port 8080; wlc; send-expect every 2s, out after 1, back after 90; 10.1.2.103:0 gate 1, 10.1.2.105:0 gate 1',
    ],
  },
  'netkiller-dr-primary-private-inactive-server.cf': {
    format: 'lvs.cf',
    nodes: ['primary 172.16.0.2 private 172.16.2.2', 'backup 172.16.0.3 private 172.16.2.3'],
    network: 'direct',
    services: [
      'LVS-HTTP: tcp 172.16.0.1/32 on eth0:1 port 80; wlc; send-expect every 6s, out after 1, back after 2; 172.16.0.5:80 gate 2, 172.16.0.6:80 gate 2, 172.16.0.7:80 gate 2, 172.16.0.8:80 gate 0 inactive',
    ],
  },
  'rdo-openstack-mysql-dr-sendprogram.cf': {
    format: 'lvs.cf',
    nodes: ['primary 10.0.0.1', 'backup 10.0.0.2'],
    network: 'direct',
    services: [
      'openstack_mysql_3306: tcp 10.0.0.3/20 on eth0:6 port 3306; wlc persistent 60s per 255.255.240.0; exec every 5s, out after 1, back after 2, quiesce; 10.0.0.4:0 gate 1, 10.0.0.5:0 gate 1',
    ],
  },
  'tigerlinux-sip-fwmark-udp-persist400.cf': {
    format: 'lvs.cf',
    nodes: ['primary 172.16.11.74', 'backup 172.16.11.75'],
    network: 'direct',
    services: [
      'web01: tcp 172.16.11.210/32 on eth0:1 port 80; wlc; send-expect every 6s, out after 1, back after 2; 172.16.11.76:80 gate 1, 172.16.11.77:80 gate 1, 172.16.11.78:80 gate 1',
      // vip_nmask = 0.0.0.0 is the GUI's "no mask": a host address, not a /0
      'sipserver: udp fwmark 3 172.16.11.211/32 on eth0:2 port 5060; wlc persistent 400s; exec every 6s, out after 1, back after 2; 172.16.11.76:0 gate 1, 172.16.11.77:0 gate 1, 172.16.11.78:0 gate 1',
    ],
  },
  'tigerlinux-sip-fwmark-udp-syncd-timeouts.cf': {
    format: 'lvs.cf',
    nodes: ['primary 172.16.11.74', 'backup 172.16.11.75'],
    network: 'direct',
    services: [
      'web01: tcp 172.16.11.210/32 on eth0:1 port 80; wlc; send-expect every 6s, out after 1, back after 2; 172.16.11.76:80 gate 1, 172.16.11.77:80 gate 1, 172.16.11.78:80 gate 1',
      'sipserver: udp fwmark 3 172.16.11.211/32 on eth0:2 port 5060; wlc; exec every 6s, out after 1, back after 2; 172.16.11.76:0 gate 1, 172.16.11.77:0 gate 1, 172.16.11.78:0 gate 1',
    ],
  },

  // ipvsadm rules: only the table (no nodes, no devices, no checks)
  'mypjb-docker-nat-servicenames.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'nat',
    services: [
      'tcp/192.168.1.112:80: tcp 192.168.1.112/32 port 80; rr; not checked; 10.0.0.64:8080 masq 1',
      'tcp/192.168.1.112:443: tcp 192.168.1.112/32 port 443; rr; not checked; 10.0.0.64:8443 masq 1',
      'tcp/192.168.1.112:6379: tcp 192.168.1.112/32 port 6379; rr; not checked; 10.0.0.64:6379 masq 1',
      'tcp/192.168.1.112:3306: tcp 192.168.1.112/32 port 3306; rr; not checked; 10.0.0.64:3306 masq 1',
      'tcp/192.168.1.112:27017: tcp 192.168.1.112/32 port 27017; rr; not checked; 10.0.0.64:27017 masq 1',
    ],
  },
  'big-brother-fwmark-tun-save.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'tunnel',
    services: [
      'fwmark/3: tcp fwmark 3 port 0; wrr; not checked; 10.0.1.220:80 ipip 1, 10.0.1.221:80 ipip 1, 10.0.1.222:80 ipip 1',
      'fwmark/1: tcp fwmark 1 port 0; wrr; not checked; 10.0.1.223:80 ipip 1, 10.0.1.224:80 ipip 1',
      'fwmark/2: tcp fwmark 2 port 0; wrr; not checked; 10.0.1.225:80 ipip 1',
    ],
  },
  'cayu-squid-dr.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'direct',
    services: ['tcp/10.1.2.106:8080: tcp 10.1.2.106/32 port 8080; wlc; not checked; 10.1.2.105:8080 gate 1, 10.1.2.103:8080 gate 1'],
  },
  'yangchuansheng-kube-router-save-persistent.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'nat',
    services: [
      'tcp/10.254.0.1:443: tcp 10.254.0.1/32 port 443; rr persistent 10800s; not checked; 192.168.123.250:6443 masq 1',
      'tcp/10.254.226.105:8080: tcp 10.254.226.105/32 port 8080; rr persistent 10800s; not checked; 172.20.135.8:8080 masq 1, 172.20.166.130:8080 masq 1, 172.20.104.9:8080 masq 1',
    ],
  },
  'ipvsadm-manpage-examples-fwmark-ipv6.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'nat',
    services: [
      'tcp/207.175.44.110:80: tcp 207.175.44.110/32 port 80; rr; not checked; 192.168.10.1:80 masq 1, 192.168.10.2:80 masq 1, 192.168.10.3:80 masq 1, 192.168.10.4:80 masq 1, 192.168.10.5:80 masq 1',
      'fwmark/1: tcp fwmark 1 port 0; rr; not checked; 192.168.10.1:0 masq 1, 192.168.10.2:0 masq 1, 192.168.10.3:0 masq 1, 192.168.10.4:0 masq 1, 192.168.10.5:0 masq 1',
      'tcp/[2001:db8::80]:80: tcp 2001:db8::80/128 port 80; rr; not checked; [2001:db8::a0a0]:80 masq 1',
    ],
  },
  // --tun-type ipip is the kernel's default encapsulation: plain -i, no tunnel settings
  'shigehiro-l3dsr-tcp-udp-tun-type.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'tunnel',
    services: [
      'tcp/192.168.50.100:53: tcp 192.168.50.100/32 port 53; rr; not checked; 192.168.52.100:53 ipip 1, 192.168.52.101:53 ipip 1',
      'udp/192.168.50.100:53: udp 192.168.50.100/32 port 53; rr; not checked; 192.168.52.100:53 ipip 1, 192.168.52.101:53 ipip 1',
    ],
  },
  'snemarch-magic-udp-set.rules': {
    format: 'ipvsadm',
    nodes: [],
    network: 'nat',
    services: ['udp/192.168.100.100:53: udp 192.168.100.100/32 port 53; rr; not checked; 192.168.100.2:53 masq 1, 192.168.100.3:53 masq 1'],
  },

  // a director's init script (VIP= then ipvsadm commands with $VIP): one clear error
  'skygx-director-initscript.sh': { firstError: '10:1 -', says: 'this is a shell script', errors: 1 },

  // keepalived.conf: no peers in these files (multicast VRRP), so no nodes; a check's
  // `retry` (1 by default, 0 for MISC_CHECK) is one failure fewer than tandem counts
  'keepalived-sample-fwmark.keepalived.conf': {
    format: 'keepalived',
    nodes: [],
    network: 'nat',
    services: [
      'fwmark1: tcp fwmark 1 port 0; rr persistent 900s; tcp every 6s, out after 2, back after 1; 192.168.201.100:0 masq 1, 192.168.201.101:0 masq 1',
    ],
  },
  'keepalived-sample-ipv6.keepalived.conf': {
    format: 'keepalived',
    nodes: [],
    network: 'nat',
    services: [
      // the unused virtual_server_group is not a service; SMTP_CHECK becomes a connect check
      '[ae00::1]:80: tcp ae00::1/128 port 80; rr persistent 50s; tcp every 6s, out after 4, back after 1; [ae00::10]:25 masq 1',
    ],
  },
  'snemarch-udp-dns.keepalived.conf': {
    format: 'keepalived',
    nodes: [],
    network: 'nat',
    services: [
      // the device is the vrrp_instance's (virtual_ipaddress ... dev eth0.53)
      '192.168.100.100:53: udp 192.168.100.100/32 on eth0.53 port 53; rr; exec every 1s, out after 1, back after 1; 192.168.100.2:53 masq 1, 192.168.100.3:53 masq 1',
    ],
  },
  // Alibaba's keepalived fork (FNAT, local_address_group), named lvs.cf: read as keepalived.conf
  'proxyos-keepalived-syntax-named-lvs.cf': { firstError: '1:1 serial_no', says: 'unknown keyword', errors: 8 },

  // ldirectord.cf: global checkinterval=2 and quiescent=yes; services from the port names
  'grimli-scriptutili.ldirectord.cf': {
    format: 'ldirectord',
    nodes: [],
    network: 'direct',
    serviceCount: 70,
    services: [
      // service=dns: no DNS check in tandem, a connect check instead
      '10.0.16.1:domain/tcp: tcp 10.0.16.1/32 port 53; wrr; tcp every 2s, out after 1, back after 1, quiesce; 10.0.240.8:53 gate 1, 10.0.240.9:53 gate 1',
      '10.0.16.1:domain/udp: udp 10.0.16.1/32 port 53; rr; tcp every 2s, out after 1, back after 1, quiesce; 10.0.240.8:53 gate 1, 10.0.240.9:53 gate 1',
      '10.0.16.10:443/tcp: tcp 10.0.16.10/32 port 443; sed persistent 1s; http every 2s, out after 1, back after 1, quiesce; 10.0.96.102:443 gate 140, 10.0.96.103:443 gate 140, 10.0.96.104:443 gate 140, 10.0.96.105:443 gate 140, 10.0.96.106:443 gate 140, 10.0.96.107:443 gate 100, 10.0.96.109:443 gate 100, 10.0.96.110:443 gate 100, 10.0.96.111:443 gate 100, 10.0.96.131:443 gate 100, 10.0.96.132:443 gate 100',
      '10.0.16.47:mysql/tcp: tcp 10.0.16.47/32 port 3306; wrr; tcp every 2s, out after 1, back after 1, quiesce; 10.0.112.51:3306 gate 1',
      // no service= and a port ldirectord cannot guess one from: service none, never checked
      '10.0.16.62:9312/tcp: tcp 10.0.16.62/32 port 9312; sed persistent 10s; not checked; 10.0.98.211:9312 gate 100',
      '10.0.16.109:27021/tcp: tcp 10.0.16.109/32 port 27021; wrr; http every 2s, out after 1, back after 1, quiesce; 10.0.232.66:27021 gate 100, 10.0.232.67:27021 gate 100, 10.0.232.68:27021 gate 100, 10.0.232.69:27021 gate 100, 10.0.232.57:27021 gate 100, 10.0.232.58:27021 gate 100',
    ],
  },
  // Config::Ldirectord output listing 192.168.3.4:80 twice (then service=ssh, unknown)
  'vincentmli-lvsadm-ini-style.ldirectord.cf': {
    firstError: '28:7 real',
    says: 'real server 192.168.3.4:80 is listed twice (first at line 27)',
    errors: 2,
  },
};

describe('the wild configuration corpus', () => {
  it('is there, beside the repository', () => {
    expect(existsSync(corpus), `${corpus} is missing`).toBe(true);
  });

  it('has an expectation for every file, and a file for every expectation', () => {
    const files = readdirSync(corpus)
      .filter((name) => name !== 'SOURCES.md')
      .sort();
    expect(files).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s', async (name, expectation) => {
    const file = wildConfig(name);
    if ('firstError' in expectation) {
      const error = await configError(loadConfig(file, { hosts: noHosts, services }));
      expect(where(error.diagnostics[0])).toBe(expectation.firstError);
      expect(formatDiagnostic(error.diagnostics[0]!)).toContain(expectation.says);
      expect(error.diagnostics).toHaveLength(expectation.errors);
      return;
    }
    const { format, model } = await loadConfig(file, { hosts: noHosts, services });
    expect(format).toBe(expectation.format);
    expect(model.nodes.map(node)).toEqual(expectation.nodes);
    expect(model.network).toBe(expectation.network);
    expect(model.natRouter !== undefined ? claimed(model.natRouter) : undefined).toBe(expectation.natRouter);
    const digests = model.virtualServices.map(digest);
    if (expectation.serviceCount === undefined) {
      expect(digests).toEqual(expectation.services);
      return;
    }
    expect(digests).toHaveLength(expectation.serviceCount);
    for (const line of expectation.services) expect(digests).toContain(line);
  });
});
