// A large IPVS table for the benchmark and the VM tier: the same services as an ipvsadm
// rules file and as the model tandem's loader makes of it.
import type { Model, VirtualService } from '../../src/config/model.js';
import { model, realServer, virtualService } from './ipvs-models.js';

/** `count` services with `servers` real servers each: the first half TCP (or UDP) services
 *  on 250 VIPs of 198.51.100.0/24 (masq), the second half fwmark services (direct routing). */
export function bigTable(count: number, servers: number, protocol: 'tcp' | 'udp' = 'tcp'): { rules: string; model: Model } {
  const option = protocol === 'tcp' ? '-t' : '-u';
  const lines: string[] = [];
  const services: VirtualService[] = [];
  const half = Math.floor(count / 2);
  const serverAddress = (i: number, n: number) => `203.0.113.${((i + n) % 250) + 1}`;
  for (let i = 0; i < half; i++) {
    const vip = `198.51.100.${(i % 250) + 1}`;
    const port = 1000 + Math.floor(i / 250);
    lines.push(`-A ${option} ${vip}:${port} -s wrr`);
    const realServers = [];
    for (let n = 1; n <= servers; n++) {
      lines.push(`-a ${option} ${vip}:${port} -r ${serverAddress(i, n)}:${8000 + n} -m -w ${n}`);
      realServers.push(realServer(serverAddress(i, n), { port: 8000 + n, weight: n }));
    }
    services.push(virtualService(`vs${i}`, vip, { protocol, port, scheduler: 'wrr', realServers }));
  }
  for (let i = 0; i < count - half; i++) {
    const mark = i + 1;
    lines.push(`-A -f ${mark} -s wrr`);
    const realServers = [];
    for (let n = 1; n <= servers; n++) {
      lines.push(`-a -f ${mark} -r ${serverAddress(i, n)}:0 -g -w ${n}`);
      realServers.push(realServer(serverAddress(i, n), { forwarding: 'gate', weight: n }));
    }
    services.push(virtualService(`fw${mark}`, undefined, { fwmark: mark, port: 0, scheduler: 'wrr', realServers }));
  }
  return { rules: `${lines.join('\n')}\n`, model: model(services) };
}
