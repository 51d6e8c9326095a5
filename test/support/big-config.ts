// Configurations of N virtual services × M real servers in every format tandem reads,
// generated rather than kept in git: the big-table tests and `npm run bench -- big` load
// them. Every format describes the same table (lvs.conf aside: one VIP, services by port).
import type { ConfigFormat } from '../../src/config/index.js';

export interface BigTable {
  services: number;
  servers: number;
  /** `vip`: TCP services on their own VIP and port; `fwmark`: firewall-mark services. */
  kind: 'vip' | 'fwmark';
}

/** 10.a.b.c with c in 1–250: distinct for up to 62,500 × 250 services. */
export function bigVip(index: number): string {
  return `10.${Math.floor(index / 62_500) + 1}.${Math.floor(index / 250) % 250}.${(index % 250) + 1}`;
}

/** Real server `server` (0-based) of service `index`, spread over 172.16.0.0/12. */
export function bigRealServer(index: number, server: number): string {
  return `172.${16 + (server % 16)}.${Math.floor(index / 250) % 250}.${(index % 250) + 1}`;
}

const fwmarkOf = (index: number): number => index + 1;

/** The lines of one service in a format, without a trailing newline. */
type ServiceWriter = (index: number, table: BigTable) => string;

const ipvsadm: ServiceWriter = (index, { servers, kind }) => {
  const target = kind === 'fwmark' ? `-f ${fwmarkOf(index)}` : `-t ${bigVip(index)}:80`;
  const lines = [`-A ${target} -s wlc`];
  for (let r = 0; r < servers; r++) lines.push(`-a ${target} -r ${bigRealServer(index, r)}:8080 -m -w ${r + 1}`);
  return lines.join('\n');
};

const yaml: ServiceWriter = (index, { servers, kind }) => {
  const lines = [`  - name: vs${index}`, `    vip:`, `      address: ${bigVip(index)}`];
  if (kind === 'fwmark') lines.push(`    fwmark: ${fwmarkOf(index)}`);
  lines.push(`    port: 80`, `    health_check:`, `      kind: none`, `    real_servers:`);
  for (let r = 0; r < servers; r++)
    lines.push(`      - address: ${bigRealServer(index, r)}`, `        port: 8080`, `        weight: ${r + 1}`);
  return lines.join('\n');
};

const lvsCf: ServiceWriter = (index, { servers, kind }) => {
  const lines = [`virtual vs${index} {`, `  active = 1`, `  address = ${bigVip(index)} eth0`, `  port = 80`];
  if (kind === 'fwmark') lines.push(`  fwmark = ${fwmarkOf(index)}`);
  lines.push(`  send = "GET / HTTP/1.0\\r\\n\\r\\n"`, `  expect = "HTTP"`);
  for (let r = 0; r < servers; r++)
    lines.push(`  server rs${r} {`, `    address = ${bigRealServer(index, r)}`, `    active = 1`, `    weight = ${r + 1}`, `  }`);
  lines.push('}');
  return lines.join('\n');
};

const keepalived: ServiceWriter = (index, { servers, kind }) => {
  const target = kind === 'fwmark' ? `fwmark ${fwmarkOf(index)}` : `${bigVip(index)} 80`;
  const lines = [`virtual_server ${target} {`, `  delay_loop 6`, `  lb_algo wlc`, `  lb_kind NAT`, `  protocol TCP`];
  for (let r = 0; r < servers; r++)
    lines.push(
      `  real_server ${bigRealServer(index, r)} 8080 {`,
      `    weight ${r + 1}`,
      `    TCP_CHECK {`,
      `      connect_timeout 3`,
      `    }`,
      `  }`,
    );
  lines.push('}');
  return lines.join('\n');
};

const ldirectord: ServiceWriter = (index, { servers, kind }) => {
  const lines = [kind === 'fwmark' ? `virtual=${fwmarkOf(index)}` : `virtual=${bigVip(index)}:80`];
  for (let r = 0; r < servers; r++) lines.push(`\treal=${bigRealServer(index, r)}:8080 masq ${r + 1}`);
  lines.push(`\tscheduler=wlc`, `\tchecktype=connect`);
  if (kind === 'fwmark') lines.push(`\tprotocol=fwm`);
  return lines.join('\n');
};

const headers: Record<Exclude<ConfigFormat, 'lvs.conf'>, string> = {
  ipvsadm: '',
  yaml: 'cluster: big\nnodes:\n  - name: ifw01\n    address: 192.0.2.1\n  - name: ifw02\n    address: 192.0.2.2\nvirtual_services:\n',
  'lvs.cf': 'serial_no = 1\nprimary = 192.0.2.1\nbackup = 192.0.2.2\nbackup_active = 1\nnetwork = nat\n',
  keepalived: 'global_defs {\n  router_id big\n}\n',
  ldirectord: 'checktimeout=3\ncheckinterval=5\nquiescent=no\n',
};

const writers: Record<Exclude<ConfigFormat, 'lvs.conf'>, ServiceWriter> = {
  ipvsadm,
  yaml,
  'lvs.cf': lvsCf,
  keepalived,
  ldirectord,
};

/** lvs.conf has one VIP: its services are TCP and UDP ports on it (at most 2 × 65,535),
 *  each balanced over all of RIPS. */
function lvsConf({ services, servers }: BigTable): string {
  const tcp = Math.ceil(services / 2);
  const ports = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i).join(' \\\n  ');
  const rips = Array.from({ length: servers }, (_, r) => bigRealServer(0, r)).join(' ');
  return `VIP=10.1.0.1\nVIP_IF=eth0:1\nLVS_IF=eth1\nTPORTS="${ports(1, tcp)}"\nUPORTS="${ports(1, services - tcp)}"\nRIPS="${rips}"\n`;
}

/** The whole file: `table.services` services of `table.servers` real servers each. */
export function bigConfigText(format: ConfigFormat, table: BigTable): string {
  if (format === 'lvs.conf') return lvsConf(table);
  const parts = [headers[format]];
  for (let index = 0; index < table.services; index++) parts.push(writers[format](index, table), '\n');
  return parts.join('');
}

/** A file name the format is recognised by. */
export const bigConfigName: Record<ConfigFormat, string> = {
  ipvsadm: 'ipvsadm.rules',
  yaml: 'tandem.yaml',
  'lvs.cf': 'lvs.cf',
  'lvs.conf': 'lvs.conf',
  keepalived: 'keepalived.conf',
  ldirectord: 'ldirectord.cf',
};
