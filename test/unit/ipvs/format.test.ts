import { describe, expect, it } from 'vitest';
import { formatList, formatSave, healthLabels } from '../../../src/ipvs/format.js';
import type { IpvsDestination, IpvsService } from '../../../src/ipvs/table.js';
import { healthCheck, model, realServer, sorryServer, virtualService } from '../../support/ipvs-models.js';

const destination = (address: string, port: number, forwarding: IpvsDestination['forwarding'], weight: number): IpvsDestination => ({
  family: address.includes(':') ? 6 : 4,
  address,
  port,
  forwarding,
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
  counters: { activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 },
});

// The same table the VM tier programs and compares with ipvsadm 1.31's own output;
// the expected text below is ipvsadm's, captured from the guest.
const table: IpvsService[] = [
  {
    family: 6,
    protocol: 'tcp',
    address: '::',
    port: 0,
    fwmark: 80,
    scheduler: 'rr',
    onePacket: true,
    schedulerFlags: 0,
    destinations: [{ ...destination('2001:db8::10', 0, 'ipip', 1), tunnelType: 'ipip' }],
  },
  {
    family: 4,
    protocol: 'tcp',
    address: '10.0.0.1',
    port: 80,
    fwmark: 0,
    scheduler: 'wlc',
    onePacket: false,
    schedulerFlags: 0,
    persistence: { timeout: 600, netmask: '255.255.255.0' },
    destinations: [destination('192.168.3.3', 8080, 'gate', 5), destination('192.168.3.2', 80, 'masq', 100)],
  },
  {
    family: 6,
    protocol: 'udp',
    address: '2001:db8::1',
    port: 53,
    fwmark: 0,
    scheduler: 'sh',
    onePacket: false,
    schedulerFlags: 0x18,
    persistence: { timeout: 30, netmask: '64' },
    destinations: [destination('2001:db8::11', 53, 'gate', 1)],
  },
  {
    family: 4,
    protocol: 'sctp',
    address: '10.0.0.2',
    port: 3868,
    fwmark: 0,
    scheduler: 'rr',
    onePacket: false,
    schedulerFlags: 0,
    destinations: [destination('10.1.0.1', 3868, 'masq', 2)],
  },
];

describe('ipvsadm-compatible output', () => {
  it('lists like ipvsadm -Ln', () => {
    expect(formatList(table, { info: { version: '1.2.1', connectionTableSize: 4096 } })).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  10.0.0.1:80 wlc persistent 600 mask 255.255.255.0',
        '  -> 192.168.3.2:80               Masq    100    0          0         ',
        '  -> 192.168.3.3:8080             Route   5      0          0         ',
        'SCTP 10.0.0.2:3868 rr',
        '  -> 10.1.0.1:3868                Masq    2      0          0         ',
        'UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port) persistent 30 mask 64',
        '  -> [2001:db8::11]:53            Route   1      0          0         ',
        'FWM  80 IPv6 rr ops',
        '  -> [2001:db8::10]:0             Tunnel  1      0          0         ',
        '',
      ].join('\n'),
    );
  });

  it('saves like ipvsadm -S -n', () => {
    expect(formatSave(table)).toBe(
      [
        '-A -t 10.0.0.1:80 -s wlc -p 600 -M 255.255.255.0',
        '-a -t 10.0.0.1:80 -r 192.168.3.2:80 -m -w 100',
        '-a -t 10.0.0.1:80 -r 192.168.3.3:8080 -g -w 5',
        '-A --sctp-service 10.0.0.2:3868 -s rr',
        '-a --sctp-service 10.0.0.2:3868 -r 10.1.0.1:3868 -m -w 2',
        '-A -u [2001:db8::1]:53 -s sh -p 30 -M 64 -b sh-fallback,sh-port',
        '-a -u [2001:db8::1]:53 -r [2001:db8::11]:53 -g -w 1',
        '-A -f 80 -6 -s rr -o',
        '-a -f 80 -6 -r [2001:db8::10]:0 -i -w 1 --tun-type ipip',
        '',
      ].join('\n'),
    );
  });

  it("saves tunnels, scheduler flags and the persistence engine in ipvsadm 1.31's words and order", () => {
    const tunnelled = (address: string, tunnel: Partial<IpvsDestination>) => ({ ...destination(address, 80, 'ipip', 1), ...tunnel });
    const service = (port: number, settings: Partial<IpvsService>, destinations: IpvsDestination[] = []): IpvsService => ({
      family: 4,
      protocol: 'tcp',
      address: '192.0.2.10',
      port,
      fwmark: 0,
      scheduler: 'rr',
      onePacket: false,
      schedulerFlags: 0,
      destinations,
      ...settings,
    });
    const saved = formatSave([
      service(80, {}, [
        tunnelled('10.1.0.1', { tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'none' }),
        tunnelled('10.1.0.2', { tunnelType: 'gue', tunnelPort: 6081, tunnelChecksum: 'remcsum' }),
        tunnelled('10.1.0.3', { tunnelType: 'gre', tunnelChecksum: 'csum' }),
        tunnelled('10.1.0.4', { tunnelType: 'gre', tunnelChecksum: 'none', upperThreshold: 9 }),
        tunnelled('10.1.0.5', {}),
      ]),
      service(81, { schedulerFlags: 0x38, persistence: { timeout: 300, netmask: '255.255.255.255' }, persistenceEngine: 'sip' }),
      service(82, { scheduler: 'mh', schedulerFlags: 0x38 }),
      service(83, { protocol: 'udp', persistenceEngine: 'sip', onePacket: true, scheduler: 'sh', schedulerFlags: 0x10 }),
    ]);
    expect(saved.split('\n')).toEqual([
      '-A -t 192.0.2.10:80 -s rr',
      '-a -t 192.0.2.10:80 -r 10.1.0.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum',
      '-a -t 192.0.2.10:80 -r 10.1.0.2:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-remcsum',
      '-a -t 192.0.2.10:80 -r 10.1.0.3:80 -i -w 1 --tun-type gre --tun-csum',
      '-a -t 192.0.2.10:80 -r 10.1.0.4:80 -i -w 1 --tun-type gre --tun-nocsum -x 9',
      // a kernel older than 5.3 tells no type; ipvsadm 1.31 writes ipip then
      '-a -t 192.0.2.10:80 -r 10.1.0.5:80 -i -w 1 --tun-type ipip',
      '-A -t 192.0.2.10:81 -s rr -p 300 --pe sip -b flag-1,flag-2,flag-3',
      // mh names its first two flags and, like ipvsadm, leaves the third out
      '-A -t 192.0.2.10:82 -s mh -b mh-fallback,mh-port',
      '-A -u 192.0.2.10:83 -s sh --pe sip -o -b sh-port',
      '',
    ]);
  });

  it('keeps thresholds in saved rules, which ipvsadm -S would lose', () => {
    const [, service] = table;
    const limited = {
      ...service!,
      destinations: [{ ...destination('192.168.3.2', 80, 'masq', 1), upperThreshold: 100, lowerThreshold: 10 }],
    };
    expect(formatSave([limited])).toContain('-a -t 10.0.0.1:80 -r 192.168.3.2:80 -m -w 1 -x 100 -y 10\n');
  });

  it('adds a health column for the servers tandem checks', () => {
    const web = virtualService('web', '10.0.0.1', {
      healthCheck: healthCheck({ quiesceServer: true }),
      realServers: [realServer('192.168.3.2', { weight: 100 }), realServer('192.168.3.3', { port: 8080, weight: 10 })],
      sorryServer: sorryServer('192.168.3.9'),
    });
    const health = healthLabels(model([web]), (_service, server) =>
      server.address === '192.168.3.2' ? { up: true, weight: 40 } : { up: false, weight: 0 },
    );
    const [, service] = table;
    const listing = formatList([{ ...service!, destinations: [...service!.destinations, destination('192.168.3.9', 80, 'masq', 1)] }], {
      health,
    });
    expect(listing.split('\n').slice(1)).toEqual([
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  Health',
      'TCP  10.0.0.1:80 wlc persistent 600 mask 255.255.255.0',
      '  -> 192.168.3.2:80               Masq    100    0          0          up (slow start 40/100)',
      '  -> 192.168.3.3:8080             Route   5      0          0          down',
      '  -> 192.168.3.9:80               Masq    1      0          0          sorry',
      '',
    ]);
  });
});
